"""Plans for promote and rollback, from real probes of lab hosts (no playbook)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract, facts, lab, plan, structure, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

VERSIONS = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)
COMMON = {"lock_stale_seconds": 900, "cache_dir": None, "events_file": None, "restart": None}


def stores_of(inventory: Path, host: str, extra: dict[str, str] | None = None) -> dict[str, plan.StoreView]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    overrides = {**hostvars["smsmse_defs_stores"], **(extra or {})}
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=None,
        events_file=None,
        event_hours=1,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache")},
        extra_stores=extra,
    )
    reply = contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))
    verification = verify.verify_host(reply, overrides=overrides, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None)
    return plan.view(reply, verification, overrides)


def promote(stores: dict[str, plan.StoreView], **options: Any) -> plan.Plan:
    return plan.promote(stores, **{"target": "csapi", "source": None, "version": "newest_good", "keep": 2, "common": COMMON, **options})


def test_promote_request_meets_the_contract(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    the_plan = promote(stores_of(inventory, "h"))
    assert the_plan.op == "install_set" and the_plan.request is not None
    assert contract.problems("install_set", "request", the_plan.request) == []
    assert the_plan.request["version"] == VERSIONS[-1]
    assert the_plan.request["source"].endswith(f"/hawking/{VERSIONS[-1]}")
    assert sorted(the_plan.request["manifest"]) == sorted([*(name for name, _size in lab.DEFAULT_FILES), "zdone.dat"])
    new = base64.b64decode(the_plan.request["definfo_b64"]).decode()
    lab_section = "[Lab]\r\n; written by the mailsec.smsmse lab\r\nBuilder=mailsec.smsmse\r\n"
    assert new == f"[DefDates]\r\nCurDefs={VERSIONS[-1]}\r\n\r\n{lab_section}"
    assert the_plan.request["protect"] == sorted([VERSIONS[0], VERSIONS[-1]])
    assert the_plan.request["events"][0]["id"] == 1000


def test_promote_from_a_source_path(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    staging = tmp_path / "iu"
    lab.write_set(staging, "20200102.001")
    stores = stores_of(inventory, "h", {"source": str(staging)})
    with pytest.raises(SmsmseError, match="DOWNGRADE_REFUSED"):
        promote(stores, source="source", version="20200102.001")
    assert promote(stores, source="source").version == VERSIONS[0]  # the older source set: nothing to do


def test_promote_without_any_good_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["empty_stores"]))
    with pytest.raises(SmsmseError, match=r"NO_GOOD_SET: The hawking store holds no good set to promote\."):
        promote(stores_of(inventory, "h"))


def test_replacing_a_bad_active_set_of_the_same_version_carries_a_fallback(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    (inventory.parent / "hosts" / "h" / "csapi" / VERSIONS[-1] / "virscan1.dat").write_bytes(b"")
    the_plan = promote(stores_of(inventory, "h"))
    assert the_plan.request is not None
    assert base64.b64decode(the_plan.request["fallback_definfo_b64"]).startswith(f"[DefDates]\r\nCurDefs={VERSIONS[-2]}".encode())
    assert the_plan.request["expect"]["active"] == VERSIONS[-1]


def test_rollback_plans(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    stores = stores_of(inventory, "h")
    kept = plan.rollback(stores, store="csapi", to="previous_good", quarantine=True, quarantine_dir=None, common=COMMON)
    assert not kept.changes
    forced = plan.rollback(stores, store="csapi", to=VERSIONS[-2], quarantine=True, quarantine_dir=None, common=COMMON)
    assert forced.request is not None and forced.extra == {"downgrade": True}
    assert forced.request["quarantine"] == []  # a good set is never quarantined
    assert contract.problems("set_pointer", "request", forced.request) == []
    assert forced.request["quarantine_dir"] == str(inventory.parent / "hosts" / "h" / "mailsec-smsmse-quarantine")
    with pytest.raises(SmsmseError, match="STORE_NOT_FOUND"):
        plan.rollback(stores, store="smsmse_hawking_x", to="previous_good", quarantine=False, quarantine_dir=None, common=COMMON)


def test_rollback_with_nothing_older(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", csapi_sets=1))
    (inventory.parent / "hosts" / "h" / "csapi" / VERSIONS[-1] / "zdone.dat").unlink()
    with pytest.raises(SmsmseError, match=r"NO_GOOD_SET: The csapi store holds no good set to roll back to\."):
        plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=False, quarantine_dir=None, common=COMMON)
