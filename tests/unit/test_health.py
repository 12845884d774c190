"""The role's decisions and checks, on hand-made verification results."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide, health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import product, snapshot, store_view

A, B, C = "20261123.001", "20261124.002", "20261125.003"
TODAY = dt.date(2026, 11, 26)


def verification(sets: dict[str, dict[str, str]], active: dict[str, str | None]) -> dict[str, Any]:
    """sets: store -> version -> status; active: store -> version."""
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.verify import newest_good

    records = [
        {
            "store": store,
            "version": v,
            "status": status,
            "errors": [] if status == "good" else [{"code": "CATALOG_HASH_MISMATCH", "message": "x", "path": None}],
            "digest": "d",
            "files": 3,
            "bytes": 100,
        }
        for store, versions in sets.items()
        for v, status in versions.items()
    ]
    act = {}
    for store, version in active.items():
        match = next((r for r in records if r["store"] == store and r["version"] == version), None)
        act[store] = {
            "version": version,
            "status": match["status"] if match else ("none" if version is None else "bad"),
            "errors": match["errors"] if match else [],
        }
    return {"sets": records, "active": act, "newest_good": newest_good(records), "hash_stats": {}, "catalog": None}


def views(sets: dict[str, dict[str, str]], active: dict[str, str | None]) -> dict[str, store_view.StoreView]:
    """StoreViews of hand-made verdicts (the planner's input)."""
    found = {}
    record = verification(sets, active)
    no_pointer = snapshot.Pointer(present=False, size=None, sha256=None, content=None, active=None, last=None, error=None)
    for store, held in sets.items():
        folders = tuple(snapshot.SetFolder(name=v, link=False, truncated=False, mtime=0.0, files=()) for v in held)
        typed = snapshot.Store(store, "", f"/h/{store}", True, None, 10**9, no_pointer, folders, (), (), None, windows=False)
        verdicts = {s["version"]: s for s in record["sets"] if s["store"] == store}
        state = record["active"].get(store, {"version": None, "status": "none"})
        found[store] = store_view.StoreView(typed, verdicts, state["version"], state["status"])
    return found


@pytest.mark.parametrize(
    ("sets", "active", "expected"),
    [
        ({"hawking": {C: "good"}, "csapi": {C: "good"}}, {"hawking": C, "csapi": C}, {"action": "none"}),
        (
            {"hawking": {C: "good"}, "csapi": {A: "good"}},
            {"hawking": C, "csapi": A},
            {"action": "promote", "source": "hawking", "version": C},
        ),
        (
            {"hawking": {C: "bad"}, "smsmse_hawking": {C: "good"}, "csapi": {A: "good"}},
            {"csapi": A},
            {"action": "promote", "source": "smsmse_hawking", "version": C},
        ),
        (
            {"hawking": {C: "good"}, "smsmse_hawking": {C: "good"}, "csapi": {A: "good"}},
            {"csapi": A},
            {"action": "promote", "source": "smsmse_hawking", "version": C},
        ),
        ({"hawking": {C: "good"}, "csapi": {B: "good", C: "bad"}}, {"csapi": C}, {"action": "promote", "source": "hawking", "version": C}),
        ({"hawking": {C: "good"}, "csapi": {C: "bad"}}, {"csapi": C}, {"action": "promote", "source": "hawking", "version": C}),
        ({"hawking": {C: "bad"}, "csapi": {B: "good", C: "bad"}}, {"csapi": C}, {"action": "rollback", "version": B}),
        ({"hawking": {C: "bad"}, "csapi": {C: "good"}}, {"csapi": C}, {"action": "none"}),
        ({"hawking": {C: "bad"}, "csapi": {C: "bad"}}, {"csapi": C}, {"action": "liveupdate"}),
        ({}, {}, {"action": "liveupdate"}),
    ],
)
def test_decide(sets: dict[str, dict[str, str]], active: dict[str, str | None], expected: dict[str, str]) -> None:
    decided: dict[str, object] = {**decide.decide(views(sets, active), product.describe(product.PRODUCT_NAME, "6.5.8")).as_dict()}
    assert {k: decided[k] for k in expected} == expected


def test_a_bad_active_set_with_only_a_copy_of_its_own_version_is_replaced() -> None:
    decided = decide.decide(views({"hawking": {C: "good"}, "csapi": {C: "bad"}}, {"csapi": C}), {})
    assert (decided.action, decided.version) == ("promote", C)
    assert decided.reason == f"CSAPI's active set {C} is bad; the good copy in hawking replaces it in place"


def test_a_bad_newest_source_set_is_repaired_or_reported() -> None:
    sets = {"hawking": {B: "good", C: "bad"}, "smsmse_hawking": {B: "good", C: "bad"}, "csapi": {B: "good"}}
    old = product.describe(product.PRODUCT_NAME, "6.0.11")
    decided = decide.decide(views(sets, {"csapi": B}), old)
    assert decided.action == "none" and decided.repairs == ("smsmse_hawking",) and decided.needs_change
    (risk,) = decided.risks
    assert risk.startswith(f"The set(s) {C} (bad) in hawking are not good and newer than its newest good set")
    assert "SMSMSE 6.0.11 does not verify definitions (only 6.5.1+ and 6.0.12+ do) and would put them into use" in risk
    asked = decide.decide(views(sets, {"csapi": B}), old, repair_hawking=True)
    assert asked.repairs == ("smsmse_hawking", "hawking") and asked.risks == ()
    new = decide.decide(
        views({"hawking": {B: "good", C: "bad"}, "csapi": {B: "good"}}, {"csapi": B}), product.describe(product.PRODUCT_NAME, "6.5.8")
    )
    assert "falls back to the previous good set (event 399/393)" in new.risks[0]


def test_an_unlisted_newest_source_set_is_moved_out_with_the_one_csapi_leaves() -> None:
    # with a catalog, enforce leaves an unlisted ("unknown") CSAPI set for a listed one; the source copy of it must go
    # too, or the product's copy job brings it back every 10 minutes and every run fights it
    sets = {"smsmse_hawking": {B: "good", C: "unknown"}, "csapi": {B: "good", C: "unknown"}}
    decided = decide.decide(views(sets, {"smsmse_hawking": C, "csapi": C}), product.describe(product.PRODUCT_NAME, "6.5.8"))
    assert decided.action in ("promote", "rollback") and decided.version == B
    assert decided.repairs == ("smsmse_hawking",)
    assert decide.source_risk(views(sets, {"smsmse_hawking": C})["smsmse_hawking"]) == [C]


def test_a_source_store_with_no_good_set_is_reported_as_a_risk() -> None:
    # nothing to point the source store at, so nothing to repair there: but its newest set is what the product copies next
    sets = {"hawking": {B: "bad", C: "bad"}, "csapi": {A: "good"}}
    old = product.describe(product.PRODUCT_NAME, "6.0.10")
    decided = decide.decide(views(sets, {"hawking": C, "csapi": A}), old)
    assert decided.action == "none" and decided.repairs == ()
    (risk,) = decided.risks
    assert risk.startswith(f"hawking holds no good set, and its set(s) {B} (bad), {C} (bad) are newer than CSAPI's {A}")
    assert "SMSMSE 6.0.10 does not verify definitions" in risk
    assert "LiveUpdate" in risk
    repaired = decide.decide(views(sets, {"hawking": C, "csapi": A}), old, repair_hawking=True)
    assert repaired.repairs == () and repaired.risks == decided.risks


def facts(
    sets: dict[str, dict[str, str]], active: dict[str, str | None], version: str = "6.5.8", events: list[int] | None = None
) -> dict[str, Any]:
    return {
        "product": product.describe(product.PRODUCT_NAME, version),
        "stores": {"csapi": {"free_bytes": 10**9}},
        "events": [{"id": i, "time": "2026-11-26T00:00:00Z", "meaning": "", "message": ""} for i in events or []],
        "verification": verification(sets, active),
    }


def statuses(found: list[dict[str, Any]]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in found}


def test_checks_of_a_healthy_host() -> None:
    found = health.checks(facts({"hawking": {C: "good"}, "csapi": {C: "good"}}, {"hawking": C, "csapi": C}), max_age_days=7, today=TODAY)
    assert statuses(found) == {
        "product_verifies": "pass",
        "csapi_active_good": "pass",
        "csapi_newest": "pass",
        "defs_age": "pass",
        "hawking_newest_good": "pass",
        "usage_sets_present": "skipped",
        "pointers_consistent": "pass",
        "no_failure_events": "pass",
        "trust_agreement": "pass",
        "catalog_fresh": "skipped",
        "free_space": "pass",
    }
    assert all(set(c) == {"id", "title", "severity", "status", "expected", "actual", "remediation", "detail"} for c in found)


def test_checks_that_fail() -> None:
    old = facts({"hawking": {A: "good", C: "bad"}, "csapi": {A: "good"}}, {"hawking": C, "csapi": A}, version="6.0.10", events=[395, 25])
    found = statuses(health.checks(old, max_age_days=2, today=TODAY))
    assert found["product_verifies"] == "fail"
    assert found["csapi_newest"] == "pass"  # A is the newest good set
    assert found["defs_age"] == "fail"
    assert found["hawking_newest_good"] == "fail"
    assert found["pointers_consistent"] == "fail"
    assert found["no_failure_events"] == "fail"
    assert found["trust_agreement"] == "fail"


@pytest.mark.parametrize("version", ["7.5.2.41", "7.9", "8.0.1"])
def test_a_recent_401_on_today_s_versions_makes_the_host_not_compliant(version: str) -> None:
    sets: dict[str, dict[str, str]] = {"hawking": {C: "good"}, "csapi": {C: "good"}}
    active: dict[str, str | None] = {"hawking": C, "csapi": C}
    found = health.checks(facts(sets, active, version=version, events=[401]), max_age_days=7, today=TODAY)
    assert statuses(found)["no_failure_events"] == "fail"
    assert statuses(found)["product_verifies"] == "pass"
    assert health.status_of(found, changed=False, failed=False) == "drift"
    quiet = health.checks(facts(sets, active, version=version, events=[25]), max_age_days=7, today=TODAY)
    assert health.status_of(quiet, changed=False, failed=False) == "compliant"


def test_a_version_without_event_ids_skips_the_event_check_and_says_why() -> None:
    found = health.checks(facts({"csapi": {C: "good"}}, {"csapi": C}, version="5.0.10", events=[401, 395]), max_age_days=7, today=TODAY)
    check = next(c for c in found if c["id"] == "no_failure_events")
    assert check["status"] == "skipped"
    assert "names no event IDs for SMSMSE 5.x" in check["detail"]
    assert statuses(found)["product_verifies"] == "fail"
