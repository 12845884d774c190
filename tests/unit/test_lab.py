"""The lab builder: healthy hosts look like real servers, and each fault does what it says."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import DefinfoError, parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

TODAY = dt.date(2026, 11, 26)


def build(tmp_path: Path, *faults: str) -> tuple[Path, list[str]]:
    lab.build_lab(tmp_path, [lab.LabHost("h", faults=list(faults))], today=TODAY)
    return tmp_path / "hosts" / "h", lab.set_versions(TODAY, 3)


def test_healthy_host(tmp_path: Path) -> None:
    host, versions = build(tmp_path)
    assert versions == ["20261123.001", "20261124.002", "20261125.003"]
    for store in ("hawking", "smsmse_hawking"):
        assert sorted(p.name for p in (host / store).iterdir() if p.is_dir()) == versions
        assert parse_definfo((host / store / "definfo.dat").read_bytes()).cur_defs == versions[-1]
    assert sorted(p.name for p in (host / "csapi").iterdir() if p.is_dir()) == versions[1:]
    assert (host / "csapi" / versions[-1] / "zdone.dat").exists()
    same = (host / "csapi" / versions[-1] / "virscan1.dat").read_bytes()
    assert same == (host / "hawking" / versions[-1] / "virscan1.dat").read_bytes()
    assert len(same) == dict(lab.DEFAULT_FILES)["virscan1.dat"]
    assert (host / "hawking" / versions[-2] / "virscan1.dat").read_bytes() != same
    events = [json.loads(line) for line in (host / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in events] == [30, 25]


def test_inventory(tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path, lab.demo_hosts(10), today=TODAY)
    group = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]
    assert group["vars"]["ansible_connection"] == "local"
    assert sorted(group["hosts"]) == [f"lab{i:02d}" for i in range(1, 11)]
    host = group["hosts"]["lab02"]
    assert host["smsmse_lab_faults"] == ["stale_csapi"]
    assert host["smsmse_defs_stores"]["csapi"] == str(tmp_path.resolve() / "hosts" / "lab02" / "csapi")
    assert host["smsmse_defs_product"]["version"] == "6.5.8"
    assert {h["smsmse_defs_product"]["version"][:3] for h in group["hosts"].values()} == {"6.0", "6.5"}


def test_corrupt_newest_keeps_size(tmp_path: Path) -> None:
    host, versions = build(tmp_path, "corrupt_newest")
    clean = lab.file_bytes(versions[-1], "virscan1.dat", dict(lab.DEFAULT_FILES)["virscan1.dat"])
    damaged = (host / "hawking" / versions[-1] / "virscan1.dat").read_bytes()
    assert len(damaged) == len(clean) and damaged != clean
    assert (host / "csapi" / versions[-1] / "virscan1.dat").read_bytes() == clean


def test_truncated_file_and_missing_marker(tmp_path: Path) -> None:
    host, versions = build(tmp_path, "truncated_file", "missing_marker")
    assert (host / "hawking" / versions[-1] / "virscan2.dat").stat().st_size == dict(lab.DEFAULT_FILES)["virscan2.dat"] // 3
    assert not (host / "hawking" / versions[-1] / "zdone.dat").exists()
    assert not (host / "smsmse_hawking" / versions[-1] / "zdone.dat").exists()


def test_stale_csapi(tmp_path: Path) -> None:
    host, versions = build(tmp_path, "stale_csapi")
    assert [p.name for p in (host / "csapi").iterdir() if p.is_dir()] == [versions[0]]
    assert parse_definfo((host / "csapi" / "definfo.dat").read_bytes()).cur_defs == versions[0]


def test_corrupt_active_csapi_and_all_corrupt(tmp_path: Path) -> None:
    host, versions = build(tmp_path, "corrupt_active_csapi")
    clean = lab.file_bytes(versions[-1], "virscan1.dat", dict(lab.DEFAULT_FILES)["virscan1.dat"])
    assert (host / "csapi" / versions[-1] / "virscan1.dat").read_bytes() != clean
    assert (host / "hawking" / versions[-1] / "virscan1.dat").read_bytes() == clean
    host, versions = build(tmp_path / "all", "all_corrupt")
    for store in lab.STORES:
        for folder in (p for p in (host / store).iterdir() if p.is_dir()):
            assert (folder / "virscan1.dat").read_bytes() != lab.file_bytes(folder.name, "virscan1.dat", 6144)


def test_empty_stores_and_malformed_definfo(tmp_path: Path) -> None:
    host = build(tmp_path, "empty_stores")[0]
    assert all(list((host / store).iterdir()) == [] for store in lab.STORES)
    host = build(tmp_path / "m", "malformed_definfo")[0]
    with pytest.raises(DefinfoError, match="line 3"):
        parse_definfo((host / "csapi" / "definfo.dat").read_bytes())


def test_unknown_fault_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown lab fault.*melted"):
        lab.build_lab(tmp_path, [lab.LabHost("h", faults=["melted"])], today=TODAY)


def test_rebuild_replaces_a_host(tmp_path: Path) -> None:
    host, versions = build(tmp_path, "empty_stores")
    host, versions = build(tmp_path)
    assert (host / "csapi" / versions[-1] / "zdone.dat").exists()


def test_every_nth_host_is_served_by_the_windows_agent(tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path, lab.demo_hosts(9, windows_every=4), today=TODAY)
    hosts = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]
    served = {name: variables.get("smsmse_defs_lab_agent", "posix") for name, variables in hosts.items()}
    assert sorted(name for name, agent in served.items() if agent == "windows") == ["lab04", "lab08"]
    assert "smsmse_defs_lab_agent" not in hosts["lab01"]  # posix is the default: nothing is written
    assert [h.agent for h in lab.fleet_hosts(8, windows_every=0)] == ["posix"] * 8
    assert [h.agent for h in lab.fleet_hosts(3, windows_every=1)] == ["windows"] * 3


def test_unknown_agent_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown lab agent 'mono' for h: choose from posix, windows"):
        lab.build_lab(tmp_path, [lab.LabHost("h", agent="mono")], today=TODAY)


def test_mono_missing_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert lab.mono_missing() == (
        "mcs and mono not on PATH, so no lab host can be served by the Windows agent's engine: install Mono "
        "(Debian: apt-get install mono-mcs mono-runtime, or scripts/ensure_mcs.sh as root)"
    )
