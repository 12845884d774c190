"""The defs_health role's sequence, in controller code: verify → agree → decide → fix → record.

The role only carries it: ``defs_verify`` reads every host (one agent call),
``defs_health_fleet`` agrees across the fleet once (:func:`fleet_marks`), and
``defs_health_host`` runs :func:`run_host` for each host: it decides
(:mod:`decide`), records the checks, and in enforce mode fixes the host in one
``apply`` call (LiveUpdate first when no good set exists, then the same
judgement and decision again on what it brought).

This module is the host step (:func:`run_host`) and the role's one public face; the parts are in
:mod:`health_run_types` (the run's typed data), :mod:`health_judge` (the fleet step: read, mark, decide, settle),
:mod:`health_change` (plans, the apply call, prediction) and :mod:`health_sources` (LiveUpdate or a distribution point,
then judged again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import read_back
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide, health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_change import (
    carry_out,
    carry_out_read,
    plans_for,
    predict,
    warnings_by_plan,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_judge import (
    decided,
    fleet_marks,
    judge,
    planned_actions,
    record,
    record_of_result,
    settle,
    settle_judged,
    settle_verified,
    usable,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_run_types import Action, Agent, Fleet, Judged, Options, Progress
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_sources import from_sources
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

__all__ = [
    "Action",
    "Agent",
    "Fleet",
    "Judged",
    "Options",
    "Progress",
    "broken",
    "carry_out",
    "carry_out_read",
    "connection_broke",
    "decided",
    "fleet_marks",
    "judge",
    "planned_actions",
    "plans_for",
    "predict",
    "record",
    "record_of_result",
    "run_host",
    "settle",
    "settle_judged",
    "settle_verified",
    "usable",
    "warnings_by_plan",
]


#: the fleet when consensus is off (a frozen record, shared)
NO_CONSENSUS = Fleet()


def run_host(
    name: str,
    verified: object,
    marks: Sequence[Mapping[str, str]],
    opts: Options,
    *,
    ctx: store_view.Context,
    agent: Agent,
    fleet: Fleet = NO_CONSENSUS,
    decided_by_fleet: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The host's report record (``changed`` says whether anything on the host changed).

    ``decided_by_fleet``: the host's assessment as the fleet step marked and decided it (:func:`decided`), read as it is;
    without it (the fleet step could not judge this host) the host is judged here, and fails with the reason.
    """
    today = opts.today
    try:
        if decided_by_fleet is not None:
            settled, judged = settle_judged(name, Judged.of(assessment.Assessment.from_dict(decided_by_fleet)), opts)
        else:
            settled, judged = settle_verified(name, verified, marks, opts, agreed=fleet.agreed())
    except Exception as exc:  # a reply that passed the contract but that the verdicts cannot use: this host alone fails
        return broken(name, exc, judged=None, checks=[], progress=Progress(doing="judging what the host reported"), today=today)
    if settled is not None or judged is None:
        return {"changed": False, "record": settled}
    first_checks = judged.checks
    progress = Progress(doing="the change")
    try:
        return _enforce(name, verified if isinstance(verified, Mapping) else {}, judged, opts, progress, ctx=ctx, agent=agent, fleet=fleet)
    except Exception as exc:  # whatever one host raises, its record is written and the fleet's report too
        return broken(name, exc, judged=judged, checks=first_checks, progress=progress, today=today)


def _enforce(
    name: str,
    verified: Mapping[str, object],
    judged: Judged,
    opts: Options,
    progress: Progress,
    *,
    ctx: store_view.Context,
    agent: Agent,
    fleet: Fleet,
) -> dict[str, Any]:
    today, first_checks, actions = opts.today, judged.checks, progress.actions
    runbook = health.RUNBOOK.format(event=_event_name(judged.smsmse_defs["product"]))
    fixed_by = None
    if judged.decision.action == decide.LIVEUPDATE:
        healed, why = from_sources(name, verified, judged, opts, progress, agent=agent, fleet=fleet)
        if healed is None:
            return _failed(name, judged, first_checks, actions, f"{why} {runbook}", today, progress.changed)
        judged, fixed_by = healed
    progress.doing = "the change"
    try:
        plans = plans_for(judged, opts, ctx)
        progress.plans, progress.changing = plans, bool(plans)
        done_actions, read = carry_out_read(plans, agent.apply)
    except SmsmseError as exc:
        return _failed(name, judged, first_checks, actions, str(exc), today, progress.changed)
    progress.doing, progress.changing = "recording the result", False
    changed = progress.changed = progress.changed or any(a.pop("changed") for a in done_actions)
    actions += done_actions
    if read is None:  # no read: the agent call itself failed (both agents read back otherwise): predicted
        observed, races = predict(judged.smsmse_defs, plans), []
    else:  # what the host holds now, read in the same call: "fixed" is read, never predicted
        observed, seen = read_back.facts(judged.smsmse_defs, judged.stores, read)
        observed["stores"] = predict(judged.smsmse_defs, plans)["stores"]  # usage.dat is not read back: as its steps said
        races = read_back.lost_races(plans, seen, judged.stores)
    after = health.checks(
        observed,
        max_age_days=opts.max_age_days,
        today=today,
        risks=judged.decision.risks,
        advice=decide.advice(judged.decision, done=True),
    )
    after_checks = health.after_fix(first_checks, after)
    fixed = Judged(observed, judged.stores, judged.decision, after)
    failed = next((a for a in done_actions if a["result"] == "failed"), None)
    if failed is not None:
        if read is None:
            return _failed(name, judged, first_checks, actions, str(failed["message"]), today, changed)
        return _failed(name, fixed, after_checks, actions, str(failed["message"]), today, changed)
    if races:
        for action, the_plan in zip(done_actions, plans):
            lost = next((r for r in races if r.startswith(f"CHANGE_CONFLICT: {the_plan.store} (")), None)
            if lost is not None:
                action["result"], action["message"] = "failed", lost
        return _failed(name, fixed, after_checks, actions, "; ".join(races), today, changed)
    status = health.status_of(after_checks, changed=changed, failed=False)
    message = "; ".join(p.message for p in plans) or judged.decision.reason
    if fixed_by is not None:
        message = f"a good set came from {fixed_by}; {message}"
    return {
        "changed": changed,
        "record": record(name, fixed, checks=after_checks, actions=actions, status=status, message=message, today=today),
    }


def broken(
    name: str,
    exc: BaseException,
    *,
    judged: Judged | None,
    checks: Sequence[Mapping[str, object]],
    progress: Progress,
    today: dt.date,
) -> dict[str, Any]:
    """The record of a host whose run raised: ``unreachable`` when the connection broke, else ``failed``, with the error text.

    A connection that broke during the change leaves it unknown whether the change was made: each planned change is
    recorded as failed with that, and the host counts as changed (the next run reads it afresh).
    """
    text = str(exc) if isinstance(exc, SmsmseError) or connection_broke(exc) else f"{type(exc).__name__}: {exc}"
    actions: list[Action] = list(progress.actions)
    changed = progress.changed
    during_change = progress.changing
    if during_change:
        unknown = "the change may have been made; the next run reads the host afresh"
        actions += [
            {"action": p.kind, "result": "failed", "version": p.version, "previous": p.previous, "message": f"{text}: {unknown}"}
            for p in progress.plans
        ]
        changed = True
    if connection_broke(exc):
        status, message = "unreachable", f"The connection to the host broke during {progress.doing}: {text}"
    else:
        status, message = "failed", f"{progress.doing[:1].upper()}{progress.doing[1:]} failed unexpectedly: {text}"
    if during_change:
        message += "; the change may have been made, the next run reads the host afresh."
    error = [*checks] if checks else [health.error_check(message)]
    return {"changed": changed, "record": record(name, judged, checks=error, actions=actions, status=status, message=message, today=today)}


def connection_broke(exc: BaseException) -> bool:
    """Whether ``exc`` says the host could not be reached (the connection plugin gave up), rather than a failure on it."""
    return isinstance(exc, AnsibleConnectionFailure)


def _failed(  # noqa: PLR0917 - the failure paths of run_host pass the same seven things
    name: str,
    judged: Judged,
    checks: Sequence[Mapping[str, object]],
    actions: Sequence[Action],
    message: str,
    today: dt.date,
    changed: bool = False,
) -> dict[str, Any]:
    return {
        "changed": changed,
        "record": record(name, judged, checks=checks, actions=actions, status="failed", message=message, today=today),
    }


def _event_name(product: Mapping[str, object]) -> str:
    """The product's "scanner failed" event, as its facts name it (``product.event_ids``), for the runbook."""
    ids = product.get("event_ids")
    if ids and isinstance(ids, Mapping):
        return f"the product's event {ids['init_failed']}"
    return "the product's event 401 (6.5.x) or 395 (6.0.x)"
