"""Verdicts on lab hosts: the POSIX agent's hashing probe, judged with and without a catalog."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build, structure, verify

KEY = Ed25519PrivateKey.generate()
NOW = dt.datetime.now(dt.timezone.utc)


def lab_catalog(root: Path, versions: list[str] | None = None) -> catalog.Catalog:
    folders = sorted((root / "reference").iterdir())
    sets = dict(catalog_build.reference_manifest(str(f), required_files=structure.DEFAULT_REQUIRED_FILES) for f in folders)
    if versions is not None:
        sets = {v: m for v, m in sets.items() if v in versions}
    document = catalog.sign(catalog.signed_part(sets, sequence=1, expires=NOW + dt.timedelta(days=1)), [KEY])
    return catalog.load(
        json.dumps(document).encode(), source="lab", trusted_keys=[KEY.public_key()], threshold=1, now=NOW, minimum_sequence=None
    )


def verify_lab_host(inventory: Path, host: str, trusted: catalog.Catalog | None) -> verify.Verification:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=hostvars["smsmse_defs_product"],
        events_file=None,
        event_hours=72,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache" / host)},
    )
    reply = contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))
    parsed = snapshot.parse(reply, hostvars["smsmse_defs_stores"])
    return verify.judge(parsed, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=trusted)


def verdicts(result: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    return {(s["store"], s["version"]): (s["status"], sorted({e["code"] for e in s["errors"]})) for s in result["sets"]}


@pytest.fixture
def versions() -> list[str]:
    return lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)


def test_healthy_host_is_good_everywhere(lab_factory: Callable[..., Path], versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    result = verify_lab_host(inventory, "h", lab_catalog(inventory.parent))
    assert {status for status, _codes in verdicts(result).values()} == {"good"}
    want: verify.ActiveVerdict = {"version": versions[-1], "status": "good", "proof": "catalog", "errors": []}
    assert result["active"]["csapi"] == want
    assert result["newest_good"] == {
        "hawking": versions[-1],
        "smsmse_hawking": versions[-1],
        "csapi": versions[-1],
        "overall": versions[-1],
    }
    assert result["catalog"] is not None and result["catalog"]["sequence"] == 1
    digests = {s["digest"] for s in result["sets"] if s["version"] == versions[-1]}
    assert len(digests) == 1 and None not in digests


@pytest.mark.parametrize(
    ("fault", "store", "which", "codes", "with_catalog"),
    [
        ("corrupt_newest", "hawking", -1, ["CATALOG_HASH_MISMATCH"], True),
        ("truncated_file", "smsmse_hawking", -1, ["CATALOG_SIZE_MISMATCH"], True),
        ("missing_marker", "hawking", -1, ["CATALOG_FILE_MISSING", "SET_MARKER_MISSING"], True),
        ("missing_marker", "hawking", -1, ["SET_MARKER_MISSING"], False),
        ("corrupt_active_csapi", "csapi", -1, ["CATALOG_HASH_MISMATCH"], True),
    ],
)
def test_each_fault_gives_its_code(
    lab_factory: Callable[..., Path], versions: list[str], fault: str, store: str, which: int, codes: list[str], with_catalog: bool
) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=[fault]))
    result = verify_lab_host(inventory, "h", lab_catalog(inventory.parent) if with_catalog else None)
    found = verdicts(result)
    assert found[(store, versions[which])] == ("bad", codes)
    bad = [key for key, (status, _codes) in found.items() if status == "bad"]
    expected_bad = {"corrupt_newest": 2, "truncated_file": 2, "missing_marker": 2, "corrupt_active_csapi": 1}[fault]
    assert len(bad) == expected_bad


def test_corrupt_active_csapi_and_newest_good(lab_factory: Callable[..., Path], versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["corrupt_active_csapi"]))
    result = verify_lab_host(inventory, "h", lab_catalog(inventory.parent))
    assert result["active"]["csapi"]["status"] == "bad"
    assert result["active"]["csapi"]["errors"][0]["code"] == "CATALOG_HASH_MISMATCH"
    assert result["newest_good"]["csapi"] == versions[-2]
    assert result["newest_good"]["overall"] == versions[-1]


def test_all_corrupt_leaves_nothing_good(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["all_corrupt"]))
    result = verify_lab_host(inventory, "h", lab_catalog(inventory.parent))
    assert {status for status, _codes in verdicts(result).values()} == {"bad"}
    assert result["newest_good"] == {"overall": None}


def test_version_outside_the_catalog_is_unknown(lab_factory: Callable[..., Path], versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    result = verify_lab_host(inventory, "h", lab_catalog(inventory.parent, versions=versions[:2]))
    assert verdicts(result)[("csapi", versions[-1])] == ("unknown", [])
    assert result["active"]["csapi"]["status"] == "unknown"
    assert result["newest_good"]["overall"] == versions[-2]


def test_stale_and_empty_and_malformed_stores(lab_factory: Callable[..., Path], versions: list[str]) -> None:
    inventory = lab_factory(
        lab.LabHost("stale", faults=["stale_csapi"]),
        lab.LabHost("empty", faults=["empty_stores"]),
        lab.LabHost("broken", faults=["malformed_definfo"]),
    )
    stale = verify_lab_host(inventory, "stale", None)
    want: verify.ActiveVerdict = {"version": versions[0], "status": "good", "proof": "structure", "errors": []}
    assert stale["active"]["csapi"] == want
    assert stale["newest_good"]["csapi"] == versions[0] and stale["newest_good"]["overall"] == versions[-1]
    empty = verify_lab_host(inventory, "empty", None)
    assert empty["sets"] == [] and empty["newest_good"] == {"overall": None}
    assert empty["active"]["csapi"] == {"version": None, "status": "none", "proof": "structure", "errors": []}
    broken = verify_lab_host(inventory, "broken", None)
    assert broken["active"]["csapi"]["status"] == "bad"
    assert broken["active"]["csapi"]["errors"][0]["code"] == "DEFINFO_MALFORMED"


def test_pointer_to_a_missing_set(lab_factory: Callable[..., Path], versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    lab.write_definfo(inventory.parent / "hosts" / "h" / "csapi", "20200101.001")
    result = verify_lab_host(inventory, "h", None)
    assert result["active"]["csapi"]["status"] == "bad"
    assert [e["code"] for e in result["active"]["csapi"]["errors"]] == ["POINTER_MISSING_SET"]


def test_cache_second_run_reads_nothing(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    first = verify_lab_host(inventory, "h", None)
    second = verify_lab_host(inventory, "h", None)
    assert first["hash_stats"]["bytes_hashed"] > 0
    assert second["hash_stats"]["bytes_hashed"] == 0
    assert second["hash_stats"]["files_cached"] == first["hash_stats"]["files_hashed"]
    assert [s["digest"] for s in first["sets"]] == [s["digest"] for s in second["sets"]]
