"""The trust rules end to end on lab hosts, through the modules: every "good" is proven."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook
from .test_defs_verify import catalog_run, verify_run

pytestmark = pytest.mark.integration
PLAYBOOKS = Path(__file__).parent / "playbooks"
VERSIONS = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)
NEWEST = VERSIONS[-1]


def trust_run(inventory: Path, tmp: Path, name: str) -> Run:
    run = playbook(str(PLAYBOOKS / "trust.yml"), inventory, tmp / name, extra={"lab_dir": str(inventory.parent)})
    assert run.returncode == 0, run.output[-3000:]
    return run


def copy(result: dict[str, Any], store: str, version: str = NEWEST) -> dict[str, Any]:
    return next(s for s in result["sets"] if s["store"] == store and s["version"] == version)


def codes(entry: dict[str, Any]) -> list[str]:
    return sorted({e["code"] for e in entry["errors"]})


def test_truncated_csapi_copy_beside_an_intact_hawking_copy_is_bad_with_default_options(
    lab_factory: Callable[..., Path], tmp_path: Path
) -> None:
    inventory = lab_factory(lab.LabHost("truncated", faults=["truncated_csapi"]))
    result = trust_run(inventory, tmp_path, "run").results["truncated"]
    assert codes(copy(result["verify"], "csapi")) == ["SET_COPY_DIFFERS"]
    assert result["verify"]["active"]["csapi"]["status"] == "bad"
    assert copy(result["verify"], "smsmse_hawking")["status"] == "good"
    assert result["rollback"]["changed"] is True and result["rollback"]["version"] == VERSIONS[-2]


def test_tampering_with_the_mtime_restored_is_caught_with_default_options(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("tampered"))
    first = trust_run(inventory, tmp_path, "first").results["tampered"]
    assert copy(first["verify"], "csapi")["status"] == "good"
    time.sleep(0.05)  # past the file system's clock tick, as any real tampering is
    lab.tamper_keep_mtime(inventory.parent / "hosts" / "tampered" / "csapi" / NEWEST / "virscan1.dat")
    second = trust_run(inventory, tmp_path, "second").results["tampered"]
    assert second["verify"]["hash_stats"]["files_hashed"] == 1
    assert codes(copy(second["verify"], "csapi")) == ["SET_COPY_DIFFERS"]
    assert second["verify"]["active"]["csapi"]["status"] == "bad"
    assert second["rollback"]["version"] == VERSIONS[-2]


def test_odd_version_names_are_never_sets(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("odd", faults=["odd_version_names"]))
    result = trust_run(inventory, tmp_path, "run").results["odd"]
    odd = set(lab.odd_version_names(NEWEST))
    assert not odd & {s["version"] for s in result["verify"]["sets"]}
    assert result["verify"]["newest_good"]["overall"] == NEWEST
    invalid = result["verify"]["ansible_facts"]["smsmse_defs"]["stores"]["hawking"]["invalid"]
    assert odd <= {entry["name"] for entry in invalid}
    assert result["promote"]["changed"] is False and result["promote"]["version"] == NEWEST


def test_consensus_ignores_unsound_copies(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    hosts = [
        *(lab.LabHost(f"ok{i}") for i in range(3)),
        *(lab.LabHost(f"unfinished{i}", faults=["unfinished_everywhere"]) for i in range(4)),
        lab.LabHost("odd", faults=["truncated_csapi"]),
    ]
    inventory = lab_factory(*hosts)
    run = playbook(str(PLAYBOOKS / "consensus.yml"), inventory, tmp_path, extra={"lab_dir": str(inventory.parent)})
    assert run.returncode == 0, run.output[-3000:]
    odd = run.results["odd"]
    assert codes(copy(odd, "csapi")) == ["CONSENSUS_MINORITY"]
    assert copy(odd, "hawking")["status"] == copy(odd, "smsmse_hawking")["status"] == "good"
    for host in ("ok0", "ok1", "ok2"):
        assert {s["status"] for s in run.results[host]["sets"]} == {"good"}


def test_a_case_collision_set_is_bad_against_a_catalog(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("collision", faults=["case_collision"]))
    assert catalog_run(inventory, tmp_path).returncode == 0
    run = verify_run(inventory, tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    result = run.results["collision"]
    for store in ("hawking", "smsmse_hawking"):
        assert codes(copy(result, store)) == ["CATALOG_FILE_UNLISTED", "SET_NAME_COLLISION"]
    assert result["newest_good"]["hawking"] == VERSIONS[-2]
    assert copy(result, "csapi")["status"] == "good"
