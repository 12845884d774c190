"""Plans and decisions from assessments held in memory: no folder, no agent, the rules alone."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError
from ansible_collections.mailsec.smsmse.tests.unit.memory_host import ROOT, StoreSpec, assess, damaged, intact, unfinished

OLD, NEW = "20261124.001", "20261125.001"
CTX = store_view.Context(windows=False, token=lambda: "t0k3n")
TODAY = dt.date(2026, 11, 26)


def promote(stores: dict[str, store_view.StoreView], **options: Any) -> plan.Plan:
    return plan.promote(stores, **{"target": "csapi", "source": None, "version": "newest_good", "keep": 2, "ctx": CTX, **options})


def ops(the_plan: plan.Plan) -> list[str]:
    return [s["op"] + ("*" if s["commit"] else "") for s in the_plan.steps]


def sent(the_plan: plan.Plan) -> plan.Plan:
    """The plan, once its steps are checked against the contract as an apply request carries them."""
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    assert contract.problems("apply", "request", request) == []
    return the_plan


def stale_csapi() -> dict[str, Any]:
    both = {OLD: intact(OLD), NEW: intact(NEW)}
    return {
        "hawking": {"pointer": (NEW, OLD), "sets": both},
        "smsmse_hawking": {"pointer": (NEW, OLD), "sets": both},
        "csapi": {"pointer": (OLD, None), "sets": {OLD: intact(OLD)}},
    }


def test_a_stale_csapi_is_given_the_newest_set_the_sources_agree_on() -> None:
    found = assess(stale_csapi())
    the_plan = promote(found.stores())
    assert ops(sent(the_plan)) == ["lock", "expect", "clean", "preflight", "stage", "rename", "write_pointer*", "event", "unlock"]
    stage = the_plan.steps[4]["args"]
    assert stage["source"] in (f"{ROOT}/hawking/{NEW}", f"{ROOT}/smsmse_hawking/{NEW}")
    assert sorted(stage["manifest"]) == sorted(intact(NEW))
    assert base64.b64decode(the_plan.steps[6]["args"]["content_b64"]).decode().startswith(f"[DefDates]\r\nCurDefs={NEW}\r\n")


def test_the_decision_on_a_stale_csapi_is_to_promote_and_on_a_current_one_nothing() -> None:
    stale = assess(stale_csapi()).decided(repair_hawking=False, max_age_days=30, today=TODAY)
    assert stale.decision is not None and stale.decision.as_dict()["action"] == "promote"
    current = stale_csapi()
    current["csapi"] = {"pointer": (NEW, OLD), "sets": {OLD: intact(OLD), NEW: intact(NEW)}}
    done = assess(current).decided(repair_hawking=False, max_age_days=30, today=TODAY)
    assert done.decision is not None and done.decision.as_dict()["action"] == "none"


def test_without_a_catalog_the_decision_says_the_set_is_good_by_structure_alone() -> None:
    decided = assess(stale_csapi()).decided(repair_hawking=False, max_age_days=30, today=TODAY)
    assert decided.decision is not None
    assert decided.decision.as_dict()["reason"].endswith("by structure alone (no catalog or fleet consensus proved its bytes)")
    assert {s["proof"] for s in decided.verification["sets"]} == {"structure"}


def test_a_bad_active_copy_is_exchanged_for_a_good_one_and_never_removed_first() -> None:
    spec = stale_csapi()
    spec["csapi"] = {"pointer": (NEW, OLD), "sets": {OLD: intact(OLD), NEW: damaged(NEW)}}
    stores = assess(spec).stores()
    assert stores["csapi"].active_status == "bad"
    the_plan = promote(stores)
    names = ops(sent(the_plan))
    assert "exchange*" in names and "remove" not in names[: names.index("exchange*")]
    exchange = next(s["args"] for s in the_plan.steps if s["op"] == "exchange")
    assert exchange["b"] == NEW and exchange["expect_b"] == stores["csapi"].manifest(NEW)


def test_a_changed_byte_is_unseen_without_a_catalog_and_the_verdict_says_so() -> None:
    """Same size, other bytes, in every copy: structure alone cannot see it, and the proof names structure."""
    spec: dict[str, StoreSpec] = {
        name: {"pointer": (NEW, None), "sets": {NEW: damaged(NEW)}} for name in ("hawking", "smsmse_hawking", "csapi")
    }
    found = assess(spec)
    assert found.stores()["csapi"].active_status == "good"
    assert found.verification["active"]["csapi"]["proof"] == "structure"
    assert not promote(found.stores()).changes


def test_with_no_good_set_anywhere_promote_refuses_and_names_why() -> None:
    spec: dict[str, StoreSpec] = {
        name: {"pointer": (NEW, None), "sets": {NEW: unfinished(NEW)}} for name in ("hawking", "smsmse_hawking", "csapi")
    }
    with pytest.raises(SmsmseError, match=r"NO_GOOD_SET: The smsmse_hawking store holds no good set to promote\."):
        promote(assess(spec).stores())


def rollback(spec: dict[str, Any], **options: Any) -> plan.Plan:
    given = {"store": "csapi", "to": "previous_good", "quarantine": True, "quarantine_dir": None, "ctx": CTX, **options}
    return plan.rollback(assess(spec).stores(), **given)


def test_rollback_keeps_a_good_active_set() -> None:
    spec = stale_csapi()
    spec["csapi"] = {"pointer": (NEW, OLD), "sets": {OLD: intact(OLD), NEW: intact(NEW)}}
    kept = rollback(spec)
    assert not kept.changes and kept.message.startswith(f"The active set {NEW} of csapi is good")


def test_rollback_leaves_a_bad_active_set_for_the_previous_good_one_and_quarantines_it() -> None:
    spec = stale_csapi()
    spec["csapi"] = {"pointer": (NEW, OLD), "sets": {OLD: intact(OLD), NEW: unfinished(NEW)}}
    the_plan = sent(rollback(spec))
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "quarantine", "event", "unlock"]
    assert base64.b64decode(the_plan.steps[5]["args"]["content_b64"]).decode().startswith(f"[DefDates]\r\nCurDefs={OLD}\r\n")
    assert the_plan.steps[6]["args"]["name"] == NEW and the_plan.steps[6]["args"]["dest_name"] == f"csapi-{NEW}-t0k3n"


def test_a_forced_rollback_to_an_older_good_set_is_a_downgrade_without_quarantine() -> None:
    spec = stale_csapi()
    spec["csapi"] = {"pointer": (NEW, OLD), "sets": {OLD: intact(OLD), NEW: intact(NEW)}}
    forced = sent(rollback(spec, to=OLD))
    assert forced.extra["downgrade"] is True and "quarantine" not in ops(forced)


def test_the_plans_are_the_same_from_an_assessment_that_went_through_json() -> None:
    """What ``defs_verify`` registers and a later task reads back plans exactly as the assessment in memory."""
    found = assess(stale_csapi())
    again = type(found).from_dict(found.to_dict())
    assert promote(again.stores()).steps == promote(found.stores()).steps
