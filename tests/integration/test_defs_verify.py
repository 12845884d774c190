"""defs_catalog_key, defs_catalog and defs_verify end to end on lab hosts."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook

pytestmark = pytest.mark.integration
PLAYBOOKS = Path(__file__).parent / "playbooks"
FAULTS = ["corrupt_newest", "truncated_file", "missing_marker", "corrupt_active_csapi", "all_corrupt", "malformed_definfo"]


@pytest.fixture
def fault_lab(lab_factory: Callable[..., Path]) -> Path:
    return lab_factory(lab.LabHost("healthy"), *(lab.LabHost(fault, faults=[fault]) for fault in FAULTS))


def catalog_run(inventory: Path, tmp: Path, *args: str) -> Run:
    extra = {
        "catalog_dir": str(tmp / "trust"),
        "lab_dir": str(inventory.parent),
        "reference_sets": [str(p) for p in sorted((inventory.parent / "reference").iterdir())],
    }
    return playbook(str(PLAYBOOKS / "catalog.yml"), inventory, tmp / "catalog-run", *args, extra=extra)


def verify_run(inventory: Path, tmp: Path, *args: str) -> Run:
    extra = {"catalog_dir": str(tmp / "trust"), "lab_dir": str(inventory.parent)}
    return playbook(str(PLAYBOOKS / "verify.yml"), inventory, tmp / "verify-run", *args, extra=extra)


def statuses(result: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in result["sets"]:
        found.setdefault(entry["status"], []).append(f"{entry['store']}/{entry['version']}")
    return found


def test_catalog_modules_check_real_and_idempotent(fault_lab: Path, tmp_path: Path) -> None:
    trust = tmp_path / "trust"
    checked = catalog_run(fault_lab, tmp_path, "--check")
    assert checked.returncode == 0, checked.output[-3000:]
    assert [r["changed"] for r in checked.results["keys"]["results"]] == [True, True]
    assert checked.results["catalog"]["skipped"] is True
    assert not trust.exists() or not any(trust.rglob("*")), "check mode wrote something"

    real = catalog_run(fault_lab, tmp_path)
    assert real.returncode == 0, real.output[-3000:]
    assert real.results["catalog"]["changed"] is True
    assert real.results["catalog"]["sequence"] == 1
    assert len(real.results["catalog"]["signed_by"]) == 2
    assert real.results["catalog"]["versions"] == sorted(p.name for p in (fault_lab.parent / "reference").iterdir())
    key_file = trust / "keys" / "ops.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    assert "secret-ops" not in real.output, "a passphrase reached the log"
    keyids = sorted(r["keyid"] for r in real.results["keys"]["results"])
    assert keyids == real.results["catalog"]["signed_by"]

    checked = catalog_run(fault_lab, tmp_path, "--check", "--diff")
    assert checked.results["catalog"]["changed"] is False
    (fault_lab.parent / "reference" / "20200101.001").mkdir()
    lab.write_set(fault_lab.parent / "reference", "20200101.001")
    before = (trust / "catalog.json").read_bytes()
    extended = catalog_run(fault_lab, tmp_path, "--check", "--diff")
    assert extended.results["catalog"]["changed"] is True
    assert extended.results["catalog"]["sequence"] == 2
    assert "+20200101.001" in extended.output
    assert (trust / "catalog.json").read_bytes() == before
    (fault_lab.parent / "reference" / "20200101.001" / "zdone.dat").unlink()
    refused = catalog_run(fault_lab, tmp_path)
    assert refused.returncode == 2
    assert "SET_MARKER_MISSING: The reference set " in refused.output
    shutil.rmtree(fault_lab.parent / "reference" / "20200101.001")

    again = catalog_run(fault_lab, tmp_path)
    assert [r["changed"] for r in again.results["keys"]["results"]] == [False, False]
    assert again.results["catalog"]["changed"] is False
    assert again.results["catalog"]["sequence"] == 1
    assert sorted(r["keyid"] for r in again.results["keys"]["results"]) == keyids


def test_verify_every_fault_then_from_cache(fault_lab: Path, tmp_path: Path) -> None:
    assert catalog_run(fault_lab, tmp_path).returncode == 0
    run = verify_run(fault_lab, tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    assert sorted(run.results) == sorted(["healthy", *FAULTS])
    for host in run.results:
        assert run.agent_calls(host) == 1, host
        assert run.results[host]["changed"] is False
        assert run.results[host]["catalog"]["sequence"] == 1
    newest = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)[-1]

    healthy = run.results["healthy"]
    assert list(statuses(healthy)) == ["good"]
    assert healthy["active"]["csapi"] == {"version": newest, "status": "good", "proof": "catalog", "errors": []}
    assert healthy["ansible_facts"]["smsmse_defs"]["verification"]["newest_good"] == healthy["newest_good"]

    def codes(host: str, store: str) -> list[str]:
        entry = next(s for s in run.results[host]["sets"] if s["store"] == store and s["version"] == newest)
        return sorted({e["code"] for e in entry["errors"]})

    assert codes("corrupt_newest", "hawking") == ["CATALOG_HASH_MISMATCH"]
    assert codes("truncated_file", "hawking") == ["CATALOG_SIZE_MISMATCH"]
    assert codes("missing_marker", "hawking") == ["CATALOG_FILE_MISSING", "SET_MARKER_MISSING"]
    assert codes("corrupt_active_csapi", "csapi") == ["CATALOG_HASH_MISMATCH"]
    assert run.results["corrupt_active_csapi"]["active"]["csapi"]["status"] == "bad"
    assert list(statuses(run.results["all_corrupt"])) == ["bad"]
    assert run.results["all_corrupt"]["newest_good"] == {"overall": None}
    broken = run.results["malformed_definfo"]
    assert broken["active"]["csapi"]["errors"][0]["code"] == "DEFINFO_MALFORMED"
    assert broken["ansible_facts"]["smsmse_defs"]["stores"]["csapi"]["definfo_error"]["code"] == "DEFINFO_MALFORMED"
    assert json.loads((tmp_path / "trust" / "state.json").read_text()) == {"sequence": 1}

    again = verify_run(fault_lab, tmp_path)
    for host, result in again.results.items():
        assert result["hash_stats"]["bytes_hashed"] == 0, host
        assert result["hash_stats"]["files_cached"] == run.results[host]["hash_stats"]["files_hashed"], host
        assert result["sets"] == run.results[host]["sets"], host


def test_replayed_catalog_fails_every_host_before_any_agent_call(fault_lab: Path, tmp_path: Path) -> None:
    assert catalog_run(fault_lab, tmp_path).returncode == 0
    (tmp_path / "trust").mkdir(exist_ok=True)
    (tmp_path / "trust" / "state.json").write_text('{"sequence": 5}')
    run = verify_run(fault_lab, tmp_path)
    assert run.returncode == 2
    assert run.agent_calls() == 0
    for result in run.results.values():
        assert result["failed"] is True
        assert result["error"]["code"] == "CATALOG_ROLLBACK"
        assert result["msg"].startswith(f"CATALOG_ROLLBACK: The catalog {tmp_path / 'trust' / 'catalog.json'} has sequence 1, lower than 5")


def test_check_mode_does_not_raise_the_state(fault_lab: Path, tmp_path: Path) -> None:
    assert catalog_run(fault_lab, tmp_path).returncode == 0
    run = verify_run(fault_lab, tmp_path, "--check")
    assert run.returncode == 0, run.output[-3000:]
    assert not (tmp_path / "trust" / "state.json").exists()
    assert run.results["healthy"]["active"]["csapi"]["status"] == "good"


def test_consensus_finds_the_odd_host_without_a_catalog(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("a"), lab.LabHost("b"), lab.LabHost("c"), lab.LabHost("odd", faults=["truncated_file"]))
    run = playbook(str(PLAYBOOKS / "consensus.yml"), inventory, tmp_path, extra={"lab_dir": str(inventory.parent)})
    assert run.returncode == 0, run.output[-3000:]
    newest = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)[-1]
    odd = {f"{s['store']}/{s['version']}": s for s in run.results["odd"]["sets"]}
    for store in ("hawking", "smsmse_hawking"):
        assert odd[f"{store}/{newest}"]["status"] == "bad"
        assert [e["code"] for e in odd[f"{store}/{newest}"]["errors"]] == ["CONSENSUS_MINORITY"]
    assert odd[f"csapi/{newest}"]["status"] == "good"
    assert run.results["odd"]["newest_good"]["hawking"] != newest
    for host in ("a", "b", "c"):
        assert {s["status"] for s in run.results[host]["sets"]} == {"good"}
