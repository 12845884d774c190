"""The change of one host in the defs_health role: the plans its decision calls for, carried out in one ``apply`` call
(one action record per plan), and the facts predicted once they succeeded."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import narrow
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_run_types import Action, Judged, Options
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed


def plans_for(judged: Judged, opts: Options, ctx: store_view.Context) -> list[plan.Plan]:
    """The changes the decision calls for: the source stores the product copies from first, then CSAPI, so that the
    product's copy job cannot bring back what the change moves CSAPI away from."""
    decision, stores = judged.decision, judged.stores
    found = []
    for store in decision.repairs:
        repair = plan.repair_source(stores, store=store, quarantine_dir=None, ctx=ctx)
        if repair is not None:
            found.append(repair)
    if decision.action == decide.PROMOTE and decision.version:
        found.append(plan.promote(stores, target="csapi", source=decision.source, version=decision.version, keep=opts.keep, ctx=ctx))
    elif decision.action == decide.ROLLBACK and decision.version:
        found.append(plan.rollback(stores, store="csapi", to=decision.version, quarantine=opts.quarantine, quarantine_dir=None, ctx=ctx))
    for store in decision.usage_repairs:  # what a change of the store above did not already move
        if any(p.store == store and "usage" in p.extra for p in found):
            continue
        fixed = plan.repair_usage(stores, store=store, ctx=ctx)
        if fixed is not None:
            found.append(fixed)
    return [p for p in found if p.changes]


def carry_out(plans: Sequence[plan.Plan], apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]) -> list[Action]:
    """Run every plan's steps in one apply; one action record per plan, read from its slice of the reply."""
    return carry_out_read(plans, apply)[0]


def carry_out_read(
    plans: Sequence[plan.Plan], apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]
) -> tuple[list[Action], list[Mapping[str, Any]] | None]:
    """:func:`carry_out`, and the stores as the agent read them after the last step (None: the reply has no read)."""
    if not plans:
        return [], None
    arranged = [p.steps for p in plans]  # a plan holds its steps in the order they are sent (Plan.__post_init__)
    request_steps = [s for group in arranged for s in group]
    reply: Mapping[str, Any] | None
    try:
        reply, failure = apply(request_steps), None
    except AgentFailed as exc:  # the agent died or the connection broke: what happened is not known
        reply, failure = None, str(exc)
    actions: list[Action] = []
    start = 0
    warnings = warnings_by_plan([] if reply is None else reply["warnings"], plans)
    for the_plan, plan_steps, its_warnings in zip(plans, arranged, warnings):
        part = None if reply is None else {"steps": reply["steps"][start : start + len(plan_steps)], "warnings": its_warnings}
        start += len(plan_steps)
        read = outcome.interpret({"steps": plan_steps}, part, failure)
        kind = the_plan.kind
        failed = bool(read.get("failed"))
        actions.append(
            {
                "action": kind,
                "result": "failed" if failed else "done",
                "version": the_plan.version,
                "previous": the_plan.previous,
                "message": str(read.get("msg")) if failed else the_plan.message,
                "warnings": [str(w) for w in read.get("warnings", [])],
                "changed": bool(read.get("changed")),
            }
        )
    return actions, None if reply is None else reply.get("read_back")


def warnings_by_plan(warnings: Sequence[str], plans: Sequence[plan.Plan]) -> list[list[str]]:
    """The reply's warnings, each given to the plan whose store it names (else whose folder it names; else to every plan)."""
    stores = [{s["store"] for s in p.steps} for p in plans]
    folders = [{v for s in p.steps for k, v in s["args"].items() if k in _FOLDER_ARGS and isinstance(v, str)} for p in plans]
    given: list[list[str]] = [[] for _plan in plans]
    for warning in warnings:
        owners = [i for i, names in enumerate(stores) if any(n in warning for n in names)]
        owners = owners or [i for i, names in enumerate(folders) if any(n in warning for n in names)] or list(range(len(plans)))
        for i in owners:
            given[i].append(warning)
    return given


_FOLDER_ARGS = ("name", "a", "b", "from", "to")


def predict(smsmse_defs: Mapping[str, object], done: Sequence[plan.Plan]) -> dict[str, Any]:
    """The facts as they are once the ``done`` plans succeeded (the agent checked every copy against its manifest)."""
    verification = _verification(smsmse_defs)
    sets = [s.copy() for s in verification["sets"]]
    active = {name: record.copy() for name, record in verification["active"].items()}
    for the_plan in done:
        store, version = the_plan.store, the_plan.version
        if the_plan.kind == "repair_usage":
            continue  # only usage.dat changed
        gone = set(the_plan.extra.get("removed", [])) | set(the_plan.extra.get("quarantined_sets", []))
        if the_plan.kind == "rollback":  # a rollback: what it quarantined is gone too
            gone |= {s["version"] for s in sets if s["store"] == store and s["status"] == "bad" and _quarantined(the_plan, s["version"])}
        sets = [s for s in sets if not (s["store"] == store and s["version"] in gone)]
        copy = next((s for s in sets if s["store"] == store and s["version"] == version), None)
        if copy is None and the_plan.extra.get("source"):
            origin = next(s for s in sets if s["store"] == the_plan.extra["source"] and s["version"] == version)
            copy = {**origin, "store": store}
            sets.append(copy)
        if copy is not None:
            copy["status"], copy["errors"] = "good", []
        active[store] = {"version": version, "status": "good", "proof": copy["proof"] if copy else verify.STRUCTURE, "errors": []}
    predicted: verify.Verification = {**verification, "sets": sets, "active": active, "newest_good": verify.newest_good(sets)}
    stores = {name: dict(record) for name, record in _stores(smsmse_defs).items()}
    for the_plan in done:
        for name, sets_after in the_plan.extra.get("usage", {}).items():
            usage = stores.get(name, {}).get("usage")
            if usage:
                stores[name]["usage"] = {**narrow.mapping(usage, f"the facts' `stores.{name}.usage`"), "sets": sets_after}
    return {**smsmse_defs, "stores": stores, "verification": predicted}


def _verification(smsmse_defs: Mapping[str, object]) -> verify.Verification:
    """The verdicts the host's facts carry, as defs_verify (or the read back after a change) set them."""
    return cast(verify.Verification, narrow.mapping(smsmse_defs["verification"], "the facts' `verification`"))


def _stores(smsmse_defs: Mapping[str, object]) -> dict[str, Mapping[str, object]]:
    """Each store record of the host's facts."""
    found = narrow.mapping(smsmse_defs["stores"], "the facts' `stores`")
    return {str(name): narrow.mapping(record, f"the facts' `stores.{name}`") for name, record in found.items()}


def _quarantined(the_plan: plan.Plan, version: str) -> bool:
    return any(s["op"] == "quarantine" and s["args"]["name"] == version for s in the_plan.steps)
