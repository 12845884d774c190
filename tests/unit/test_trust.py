"""The trust rules on lab hosts, through the POSIX agent's probe and verify.judge: every "good" is proven."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, catalog_build, consensus, structure, verify, verify_task
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord

KEY = Ed25519PrivateKey.generate()
NOW = dt.datetime.now(dt.timezone.utc)
VERSIONS = lab.set_versions(NOW.date(), 3)
NEWEST = VERSIONS[-1]


def probe(inventory: Path, host: str) -> snapshot.Snapshot:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    return snapshot.parse(raw_probe(inventory, host), hostvars["smsmse_defs_stores"])


def raw_probe(inventory: Path, host: str) -> dict[str, Any]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=hostvars["smsmse_defs_product"],
        events_file=None,
        event_hours=72,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache" / host), "max_age_seconds": 7 * 86400},
    )
    return contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))


def judge(inventory: Path, host: str, trusted: catalog.Catalog | None = None, marks: Any = ()) -> verify.Verification:
    return verify.judge(probe(inventory, host), required_files=structure.DEFAULT_REQUIRED_FILES, catalog=trusted, marks=marks)


def lab_catalog(root: Path) -> catalog.Catalog:
    sets = dict(
        catalog_build.reference_manifest(str(f), required_files=structure.DEFAULT_REQUIRED_FILES)
        for f in sorted((root / "reference").iterdir())
    )
    document = catalog.sign(catalog.signed_part(sets, sequence=1, expires=NOW + dt.timedelta(days=1)), [KEY])
    return catalog.load(
        json.dumps(document).encode(), source="lab", trusted_keys=[KEY.public_key()], threshold=1, now=NOW, minimum_sequence=None
    )


def copy(result: Mapping[str, Any], store: str, version: str = NEWEST) -> verify.SetVerdict:
    """The verdict on one copy, in a verification (or a defs_verify result, which carries its keys)."""
    found: verify.SetVerdict = next(s for s in result["sets"] if s["store"] == store and s["version"] == version)
    return found


def codes(entry: Mapping[str, Any]) -> list[str]:
    return sorted({e["code"] for e in entry["errors"]})


def test_the_snapshot_chooses_stores_once_and_reads_the_pointer(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["malformed_definfo"]))
    host = probe(inventory, "h")
    assert sorted(host.stores) == ["csapi", "hawking", "smsmse_hawking"]
    judged = verify.judge(host, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None)
    assert decide.decide(store_view.view(host, judged), {}).source == "smsmse_hawking"  # the product's own source store wins
    assert host.stores["hawking"].pointer.active == NEWEST and host.stores["hawking"].pointer.error is None
    assert host.stores["csapi"].pointer.error is not None and host.stores["csapi"].pointer.error.code == "DEFINFO_MALFORMED"
    folder = host.stores["csapi"].set(NEWEST)
    assert folder is not None and folder.manifest()["zdone.dat"]["size"] == 6
    assert host.stores["csapi"].folder(NEWEST).endswith(f"/csapi/{NEWEST}")


def test_truncated_csapi_copy_beside_an_intact_hawking_copy_is_bad_with_default_options(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["truncated_csapi"]))
    result = judge(inventory, "h")
    csapi = copy(result, "csapi")
    assert (csapi["status"], csapi["checked"], codes(csapi)) == ("bad", "good", ["SET_COPY_DIFFERS"])
    message = csapi["errors"][0]["message"]
    assert copy(result, "csapi")["path"] in message and copy(result, "smsmse_hawking")["path"] in message
    assert copy(result, "hawking")["status"] == copy(result, "smsmse_hawking")["status"] == "good"
    assert result["active"]["csapi"]["status"] == "bad"
    assert result["newest_good"]["csapi"] == VERSIONS[-2]


def test_the_source_rule_ranks_smsmse_hawking_first_and_yields_to_consensus(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["corrupt_newest"]))
    result = judge(inventory, "h")  # both source copies hold the same flipped byte: they win over CSAPI
    assert [copy(result, s)["status"] for s in ("hawking", "smsmse_hawking", "csapi")] == ["good", "good", "bad"]
    problem: ProblemRecord = {"code": "CONSENSUS_MINORITY", "message": "the fleet holds other bytes", "path": None}
    marks = [verify.Mark(store, NEWEST, problem) for store in ("hawking", "smsmse_hawking")]
    for after in (judge(inventory, "h", marks=marks), verify.mark_bad(result, marks)):
        assert [copy(after, s)["status"] for s in ("hawking", "smsmse_hawking", "csapi")] == ["bad", "bad", "good"]
        assert codes(copy(after, "csapi")) == []
        assert after["active"]["csapi"]["status"] == "good"
        assert after["newest_good"]["overall"] == NEWEST
    lab.tamper_keep_mtime(inventory.parent / "hosts" / "h" / "hawking" / NEWEST / "naveng32.dll")
    ranked = judge(inventory, "h")
    assert codes(copy(ranked, "hawking")) == ["SET_COPY_DIFFERS"]
    assert copy(ranked, "smsmse_hawking")["status"] == "good"


def test_consensus_ignores_unsound_copies_so_the_fleet_decides(lab_factory: Callable[..., Path]) -> None:
    healthy = [lab.LabHost(f"ok{i}") for i in range(3)]
    unsound = [lab.LabHost(f"unfinished{i}", faults=["unfinished_everywhere"]) for i in range(4)]
    inventory = lab_factory(*healthy, *unsound, lab.LabHost("odd", faults=["truncated_csapi"]))
    fleet = {spec.name: judge(inventory, spec.name) for spec in (*healthy, *unsound, lab.LabHost("odd"))}
    found = consensus.minorities(fleet)
    assert [(f.host, f.store, f.agreeing, f.voting) for f in found] == [("odd", "csapi", 3, 3)]
    odd = verify.apply_consensus(fleet["odd"], found, "odd")
    assert codes(copy(odd, "csapi")) == ["CONSENSUS_MINORITY"]
    assert copy(odd, "smsmse_hawking")["status"] == "good"


def test_restored_mtime_does_not_hide_tampering(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    assert copy(judge(inventory, "h"), "csapi")["status"] == "good"
    time.sleep(0.05)  # past the file system's clock tick, as any real tampering is
    lab.tamper_keep_mtime(inventory.parent / "hosts" / "h" / "csapi" / NEWEST / "virscan1.dat")
    after = judge(inventory, "h")
    assert after["hash_stats"]["files_hashed"] == 1
    assert codes(copy(after, "csapi")) == ["SET_COPY_DIFFERS"]


def test_a_cache_others_can_write_cannot_vouch_for_tampered_bytes(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    honest = copy(judge(inventory, "h"), "csapi")
    assert honest["status"] == "good"
    cache = inventory.parent / "cache" / "h"
    cache.chmod(0o777)  # a cache folder anyone can write: another user forges an entry for the tampered file
    target = inventory.parent / "hosts" / "h" / "csapi" / NEWEST / "virscan1.dat"
    time.sleep(0.05)
    lab.tamper_keep_mtime(target)
    st = target.stat()
    for cache_file in cache.iterdir():
        document = json.loads(cache_file.read_text())
        if str(target) in document["entries"]:
            good = document["entries"][str(target)]
            document["entries"][str(target)] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, f"{st.st_dev}:{st.st_ino}", good[4], good[5]]
            cache_file.write_text(json.dumps(document))
    stores = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["h"]["smsmse_defs_stores"]
    reply = raw_probe(inventory, "h")
    result = verify_task.result_of(reply, overrides=stores, required_files=structure.DEFAULT_REQUIRED_FILES, trusted=None)
    assert codes(copy(result, "csapi")) == ["SET_COPY_DIFFERS"]
    assert result["hash_stats"]["cache_refused"] and all(str(cache) in why for why in result["hash_stats"]["cache_refused"])
    assert any("writable by group or others" in warning for warning in result["warnings"])


def test_a_case_collision_set_is_bad_against_a_catalog(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["case_collision"]))
    result = judge(inventory, "h", lab_catalog(inventory.parent))
    for store in ("hawking", "smsmse_hawking"):
        entry = copy(result, store)
        assert entry["status"] == "bad"
        assert codes(entry) == ["CATALOG_FILE_UNLISTED", "SET_NAME_COLLISION"]
        assert "VIRSCAN1.DAT, virscan1.dat" in entry["errors"][0]["message"]
    assert copy(result, "csapi")["status"] == "good"
    assert codes(copy(judge(inventory, "h"), "hawking")) == ["SET_NAME_COLLISION"]  # without a catalog too


@pytest.mark.parametrize("name", ["NUL.dat", "con", "COM\u00b9.dat"])
def test_a_file_named_like_a_windows_device_makes_the_set_bad(lab_factory: Callable[..., Path], name: str) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    (inventory.parent / "hosts" / "h" / "csapi" / NEWEST / name).write_bytes(b"opens a device on Windows, not this file")
    result = judge(inventory, "h")
    assert codes(copy(result, "csapi")) == ["SET_NAME_RESERVED"]
    assert copy(result, "hawking")["status"] == "good"


@pytest.mark.parametrize("name", lab.odd_version_names(NEWEST))
def test_odd_version_names_are_not_sets(lab_factory: Callable[..., Path], name: str) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["odd_version_names"]))
    host = probe(inventory, "h")
    assert name in {f.name for f in host.stores["hawking"].others}
    result = verify.judge(host, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None)
    assert name not in {s["version"] for s in result["sets"]}
    assert result["newest_good"]["overall"] == NEWEST
    invalid = facts.build(host)["stores"]["hawking"]["invalid"]
    assert name in [entry["name"] for entry in invalid]


def test_the_cache_age_option_reaches_the_probe_and_refuses_a_negative_age() -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import probe as probes
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HashingOptions
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

    options: HashingOptions = {"deep": False, "hash_cache_dir": None, "hash_cache_max_age_days": 7}
    request = probes.hashing(options)
    assert request == {"deep": False, "cache_dir": None, "max_age_seconds": 604800}
    contract.check_request(
        "probe", facts.probe_request(is_windows=True, stores=None, product_option=None, events_file=None, event_hours=1, hashing=request)
    )
    assert probes.hashing({**options, "hash_cache_max_age_days": 0})["max_age_seconds"] == 0
    with pytest.raises(SmsmseError, match=r"OPTION_INVALID.*hash_cache_max_age_days"):
        probes.hashing({**options, "hash_cache_max_age_days": -1})


def test_windows_paths_join_with_backslashes() -> None:
    store = snapshot.Store(
        name="csapi",
        template="x",
        path="C:\\Defs\\",
        exists=True,
        error=None,
        free_bytes=None,
        pointer=snapshot.Pointer(False, None, None, None, None, None, None),
        sets=(),
        others=(),
        files=(),
        hash_stats=None,
        windows=True,
    )
    assert store.folder(NEWEST) == f"C:\\Defs\\{NEWEST}"
