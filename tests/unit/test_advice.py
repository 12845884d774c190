"""Advice follows the plan: the remediation a host's failing checks give comes from the same decision as its plan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health

from .test_health_run import Host, one, run, versions

__all__ = ["one"]  # the fixture


def failing(record: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["remediation"] for c in record["checks"] if c["status"] in ("fail", "error")}


def test_a_host_with_no_good_set_is_told_liveupdate_as_its_plan_says(one: Callable[..., Host]) -> None:
    record = run(one(faults=["empty_stores"]), mode="report")["record"]
    assert [a["action"] for a in record["actions"]] == ["liveupdate"]
    advice = failing(record)
    assert "run LiveUpdate" in advice["csapi_active_good"]
    assert all(advice[c] == advice["csapi_active_good"] for c in advice if c in health.PLANNED_CHECKS)
    assert health.CHECKS["csapi_active_good"][2] not in advice.values()  # never "Roll back to a good set, or promote ..."


def test_a_host_that_needs_defs_health_repair_hawking_is_told_so_not_to_investigate_tampering(one: Callable[..., Host]) -> None:
    newest = versions()[-1]
    marks: list[dict[str, str]] = [
        {"store": store, "version": newest, "code": "CONSENSUS_MINORITY", "message": "the fleet holds other bytes"}
        for store in ("hawking", "smsmse_hawking")
    ]
    for mode in ("report", "enforce"):
        record = run(one(faults=["corrupt_newest"]), mode=mode, marks=marks)["record"]
        advice = failing(record)
        assert {"trust_agreement", "hawking_newest_good"} <= set(advice), (mode, advice)
        for check_id in ("trust_agreement", "hawking_newest_good", "pointers_consistent"):
            if check_id in advice:
                assert "defs_health_repair_hawking" in advice[check_id], (mode, check_id, advice[check_id])
                assert "investigate tampering" not in advice[check_id], (mode, check_id)


def test_a_host_to_promote_is_told_to_promote_what_the_plan_promotes(one: Callable[..., Host]) -> None:
    record = run(one(faults=["stale_csapi"]), mode="report")["record"]
    newest = versions()[-1]
    assert failing(record)["csapi_newest"].startswith(f"Promote {newest} from smsmse_hawking into CSAPI")
