"""The role's decisions and checks, on hand-made verification results."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.filter.defs_health import defs_health_plan, defs_health_record
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import health, product

A, B, C = "20261123.001", "20261124.002", "20261125.003"
TODAY = dt.date(2026, 11, 26)


def verification(sets: dict[str, dict[str, str]], active: dict[str, str | None]) -> dict[str, Any]:
    """sets: store -> version -> status; active: store -> version."""
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils.verify import newest_good

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
        ({"hawking": {C: "good"}, "csapi": {B: "good", C: "bad"}}, {"csapi": C}, {"action": "promote", "source": "hawking", "version": C}),
        ({"hawking": {C: "bad"}, "csapi": {B: "good", C: "bad"}}, {"csapi": C}, {"action": "rollback", "version": B}),
        ({"hawking": {C: "bad"}, "csapi": {C: "good"}}, {"csapi": C}, {"action": "none"}),
        ({"hawking": {C: "bad"}, "csapi": {C: "bad"}}, {"csapi": C}, {"action": "liveupdate"}),
        ({}, {}, {"action": "liveupdate"}),
    ],
)
def test_decide(sets: dict[str, dict[str, str]], active: dict[str, str | None], expected: dict[str, str]) -> None:
    decided = health.decide(verification(sets, active))
    assert {k: decided[k] for k in expected} == expected


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


def test_record_of_a_fixed_host() -> None:
    defs = facts({"hawking": {C: "good"}, "csapi": {A: "good"}}, {"hawking": C, "csapi": A})
    plan = defs_health_plan({"ansible_facts": {"smsmse_defs": defs}, "changed": False}, max_age_days=7)
    assert plan["decision"]["action"] == "promote"
    record = defs_health_record(plan, "h", "enforce", change={"changed": True, "version": C, "previous": A, "msg": "csapi: A -> C"})
    assert record["status"] == "fixed"
    assert [c["status"] for c in record["checks"] if c["id"] == "csapi_newest"] == ["fixed"]
    assert record["versions"]["csapi_active"] == C
    report_only = defs_health_record(plan, "h", "report")
    assert report_only["status"] == "drift" and report_only["actions"][0]["result"] == "planned"
    failed = defs_health_record(plan, "h", "enforce", change={"failed": True, "msg": "CHANGE_CONFLICT: ..."})
    assert failed["status"] == "failed" and failed["message"] == "CHANGE_CONFLICT: ..."


def test_record_when_nothing_good_is_left() -> None:
    defs = facts({"hawking": {C: "bad"}, "csapi": {C: "bad"}}, {"csapi": C}, version="6.0.14")
    plan = defs_health_plan({"ansible_facts": {"smsmse_defs": defs}}, max_age_days=7)
    record = defs_health_record(plan, "h", "enforce", liveupdate={"skipped": True})
    assert record["status"] == "failed"
    assert "the product's event 395" in record["message"]
    unreachable = defs_health_record(defs_health_plan({"unreachable": True, "msg": "timed out"}), "h", "enforce")
    assert (unreachable["status"], unreachable["message"]) == ("unreachable", "timed out")
    broken = defs_health_record(defs_health_plan({"failed": True, "msg": "CATALOG_EXPIRED: ..."}), "h", "enforce")
    assert broken["status"] == "failed" and broken["checks"][0]["status"] == "error"
