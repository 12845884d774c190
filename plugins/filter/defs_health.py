# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the defs_health role: what a host needs (defs_health_plan) and what became of it (defs_health_record)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import health, verify


def _usable(result: Any) -> bool:
    return isinstance(result, Mapping) and bool(result) and not result.get("skipped")


def defs_health_plan(verified: Mapping[str, Any], marks: Sequence[Mapping[str, Any]] = (), max_age_days: int = 7) -> dict[str, Any]:
    if not isinstance(verified, Mapping):
        raise AnsibleFilterError("defs_health_plan expects a registered defs_verify result")
    today = dt.datetime.now(dt.timezone.utc).date()
    if verified.get("unreachable"):
        return {"reachable": False, "error": str(verified.get("msg", "unreachable")), "decision": {"action": "none"}, "checks": []}
    if verified.get("failed") or "verification" not in (verified.get("ansible_facts") or {}).get("smsmse_defs", {}):
        message = str(verified.get("msg", "defs_verify did not run"))
        return {"reachable": True, "error": message, "decision": {"action": "none"}, "checks": [health.error_check(message)]}
    smsmse_defs = dict(verified["ansible_facts"]["smsmse_defs"])
    problems = [(m["store"], m["version"], {"code": m["code"], "message": m["message"], "path": None}) for m in marks]
    smsmse_defs["verification"] = verify.mark_bad(smsmse_defs["verification"], problems)
    return {
        "reachable": True,
        "error": None,
        "decision": health.decide(smsmse_defs["verification"]),
        "checks": health.checks(smsmse_defs, max_age_days=int(max_age_days), today=today),
        "smsmse_defs": smsmse_defs,
        "bad_sets": [{"store": m["store"], "version": m["version"]} for m in marks],
        "max_age_days": int(max_age_days),
    }


def _action(kind: str, result: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "action": kind,
        "result": "failed" if result.get("failed") else "done",
        "version": result.get("version"),
        "previous": result.get("previous"),
        "message": str(result.get("msg", "")),
    }


def defs_health_record(  # noqa: PLR0917 - a Jinja filter takes its arguments as the role passes them
    plan: Mapping[str, Any],
    name: str,
    mode: str,
    change: Mapping[str, Any] | None = None,
    liveupdate: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    after_change: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The host's report record: status, checks (``fixed`` where a fix worked), actions, versions."""
    today = dt.datetime.now(dt.timezone.utc).date()

    def record(
        smsmse_defs: Mapping[str, Any] | None,
        checks: Sequence[Mapping[str, Any]],
        actions: Sequence[Mapping[str, Any]],
        status: str,
        message: str = "",
    ) -> dict[str, Any]:
        return health.host_record(
            name, smsmse_defs=smsmse_defs, checks_=checks, actions=actions, status=status, message=message, today=today
        )

    if not plan.get("reachable", True):
        return record(None, [], [], "unreachable", plan["error"])
    if plan.get("error"):
        return record(None, plan["checks"], [], "failed", plan["error"])
    smsmse_defs, checks, decision = plan["smsmse_defs"], plan["checks"], plan["decision"]
    if mode != "enforce" or decision["action"] == "none":
        planned = (
            []
            if decision["action"] == "none"
            else [
                {
                    "action": decision["action"],
                    "result": "planned",
                    "version": decision.get("version"),
                    "previous": None,
                    "message": decision["reason"],
                }
            ]
        )
        return record(smsmse_defs, checks, planned, health.status_of(checks, changed=False, failed=False), decision["reason"])
    runbook = health.RUNBOOK.format(event=_event_name(smsmse_defs))
    actions: list[dict[str, Any]] = []
    if decision["action"] == "liveupdate":
        if not _usable(liveupdate):
            return record(smsmse_defs, checks, actions, "failed", f"No good set exists and LiveUpdate is disabled. {runbook}")
        liveupdate = liveupdate or {}
        actions.append(_action("liveupdate", liveupdate))
        if liveupdate.get("failed"):
            return record(smsmse_defs, checks, actions, "failed", f"{liveupdate.get('msg', 'LiveUpdate failed')} {runbook}")
        if not _usable(after) or (after or {}).get("error"):
            return record(
                smsmse_defs, checks, actions, "failed", f"{(after or {}).get('error') or 'not verified after LiveUpdate'} {runbook}"
            )
        after = after or {}
        smsmse_defs, decision, change = after["smsmse_defs"], after["decision"], after_change
        if decision["action"] == "liveupdate":
            return record(smsmse_defs, checks, actions, "failed", f"LiveUpdate brought no good set. {runbook}")
        if decision["action"] == "none":
            after_checks = health.after_fix(checks, after["checks"])
            return record(
                smsmse_defs, after_checks, actions, health.status_of(after_checks, changed=True, failed=False), decision["reason"]
            )
    if not _usable(change):
        return record(smsmse_defs, checks, actions, "failed", f"the {decision['action']} did not run")
    change = change or {}
    actions.append(_action(decision["action"], change))
    if change.get("failed"):
        return record(smsmse_defs, checks, actions, "failed", str(change.get("msg", "")))
    predicted = health.predict(smsmse_defs, decision)
    after_checks = health.after_fix(checks, health.checks(predicted, max_age_days=plan["max_age_days"], today=today))
    return record(predicted, after_checks, actions, health.status_of(after_checks, changed=True, failed=False), str(change.get("msg", "")))


def _event_name(smsmse_defs: Mapping[str, Any]) -> str:
    ids = smsmse_defs["product"].get("event_ids")
    return f"the product's event {ids['init_failed']}" if ids else "the product's event 401 (6.5.x) or 395 (6.0.x)"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"defs_health_plan": defs_health_plan, "defs_health_record": defs_health_record}
