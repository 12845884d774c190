"""The POSIX agent's probe, run in-process against lab hosts; every reply must meet the contract."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.doc_fragments.agent import ModuleDocFragment
from ansible_collections.mailsec.smsmse.plugins.module_utils import events, scan
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec


def probe_host(inventory: Path, host: str, **changes: Any) -> dict[str, Any]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=hostvars["smsmse_defs_product"],
        events_file=hostvars["smsmse_defs_events_file"],
        event_hours=72,
    )
    request.update(changes)
    contract.check_request("probe", request)
    reply = defs_agent_posix.probe(request)
    assert contract.problems("probe", "reply", reply) == []
    return reply


def test_probe_reports_every_store(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h1"))
    reply = probe_host(inventory, "h1")
    assert reply["agent"] == {"name": "defs_agent_posix", "runtime": f"Python {platform.python_version()}"}
    assert [s["name"] for s in reply["stores"]] == ["hawking", "smsmse_hawking", "csapi"]
    csapi = reply["stores"][2]
    assert csapi["exists"] and csapi["error"] is None and csapi["free_bytes"] > 0
    assert [d["name"] for d in csapi["dirs"]] == lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)[1:]
    files = {f["path"]: f["size"] for f in csapi["dirs"][0]["files"]}
    assert files == {**dict(lab.DEFAULT_FILES), "zdone.dat": 6}
    assert csapi["definfo"]["present"] and csapi["definfo"]["content_b64"]
    assert reply["product"] == {"name": "Symantec Mail Security for Microsoft Exchange", "version": "6.5.8", "source": "option"}
    assert sorted(e["id"] for e in reply["events"]) == [25, 30]


def test_missing_store_is_reported_not_fatal(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("h1"))
    reply = probe_host(inventory, "h1", stores=[{"name": "csapi", "template": str(tmp_path / "nowhere")}])
    assert reply["stores"][0]["exists"] is False
    assert reply["stores"][0]["dirs"] == []


def test_links_are_reported_never_followed(tmp_path: Path) -> None:
    store = tmp_path / "store"
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret.dat").write_bytes(b"x" * 10)
    lab.write_set(store, "20121215.003")
    (store / "20121215.003" / "escape").symlink_to(outside)
    (store / "20121216.001").symlink_to(outside)
    record = scan.scan_store("csapi", str(store), facts.LIMITS)
    by_name = {d["name"]: d for d in record["dirs"]}
    assert by_name["20121216.001"]["link"] is True and by_name["20121216.001"]["files"] == []
    escape = [f for f in by_name["20121215.003"]["files"] if f["path"] == "escape"]
    assert escape == [{"path": "escape", "size": 0, "mtime": escape[0]["mtime"], "link": True}]
    assert not any("secret" in f["path"] for f in by_name["20121215.003"]["files"])


def test_nested_files_use_forward_slashes_and_limit(tmp_path: Path) -> None:
    folder = tmp_path / "s" / "20121215.003" / "sub"
    folder.mkdir(parents=True)
    for i in range(5):
        (folder / f"f{i}.dat").write_bytes(b"1")
    files, truncated = scan.list_files(str(tmp_path / "s" / "20121215.003"), 3)
    assert truncated is True and len(files) == 3
    assert files[0]["path"] == "sub/f0.dat"
    files, truncated = scan.list_files(str(tmp_path / "s" / "20121215.003"), 5)
    assert truncated is False and len(files) == 5


def test_definfo_over_the_limit_is_not_sent_but_its_digest_is(tmp_path: Path) -> None:
    data = b"[DefDates]\r\n" + b";" * 100 + b"\r\n"
    (tmp_path / "definfo.dat").write_bytes(data)
    record = scan.read_definfo(str(tmp_path / "definfo.dat"), 50)
    sha256 = hashlib.sha256(data).hexdigest()
    assert record == {"present": True, "size": 114, "sha256": sha256, "content_b64": None, "kind": "file"}


def test_unreadable_store_reports_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "store"
    store.mkdir()

    def refuse(path: str) -> Any:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "scandir", refuse)
    record = scan.scan_store("csapi", str(store), facts.LIMITS)
    assert record["error"].startswith("PermissionError: ")


def test_expand_uses_the_environment() -> None:
    assert scan.expand(r"%ProgramData%\Symantec", {"ProgramData": r"C:\ProgramData"}) == r"C:\ProgramData\Symantec"
    assert scan.expand("%UNSET_VAR%/x", {}) == "%UNSET_VAR%/x"
    assert scan.template_vars(r"%A%\b\%C(x86)%") == ["A", "C(x86)"]


def test_events_file_filters_and_skips_garbage(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
    path = tmp_path / "events.jsonl"
    lines = [
        {"id": 25, "time": "2026-11-26T11:00:00Z", "message": "new"},
        {"id": 30, "time": "2026-11-20T11:00:00Z", "message": "too old"},
        {"id": 7, "time": "2026-11-26T11:00:00Z", "message": "other id"},
        {"id": 399, "time": "2026-11-26T10:00:00Z", "message": "x" * 5000},
        {"id": "25", "time": "2026-11-26T11:00:00Z"},
        {"id": 25, "time": "yesterday"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n\n")
    found, skipped = events.read_events(str(path), [25, 30, 399], 72, 10, now=now)
    assert [e["id"] for e in found] == [25, 399]
    assert len(found[1]["message"]) == 4096
    assert skipped == 3
    found = events.read_events(str(path), [25, 30, 399], 72, 1, now=now)[0]
    assert [e["message"] for e in found] == ["new"]


def test_unreadable_events_file_is_reported(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("h1"))
    reply = probe_host(inventory, "h1", events_file=str(tmp_path / "none.jsonl"))
    assert reply["events"] == []
    assert reply["events_error"].startswith("cannot read ")


def test_the_agent_offers_exactly_the_documented_operations_of_the_contract() -> None:
    documented = argspec.documented_options(ModuleDocFragment.DOCUMENTATION)["op"]["choices"]
    assert sorted(documented) == sorted(defs_agent_posix.OPERATIONS) == sorted(contract.OPERATIONS)
    assert all((contract.SCHEMA_DIR / f"{op}.request.json").is_file() for op in contract.OPERATIONS)


def test_a_probe_does_not_load_the_change_code() -> None:
    # every host pays the agent's imports on every run; the change code (threads, locks, renames) is for apply alone
    import subprocess
    import sys

    code = (
        "import sys; sys.path[:0] = sys.argv[1:];"
        "from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix;"
        "print(sorted(m for m in ('concurrent.futures', 'ansible_collections.mailsec.smsmse.plugins.module_utils.primitives',"
        " 'ansible_collections.mailsec.smsmse.plugins.module_utils.apply') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code, *sys.path], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
    assert set(defs_agent_posix.CHANGES) == {"apply", "run_liveupdate"}
