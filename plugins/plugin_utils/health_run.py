"""The defs_health role's sequence, in controller code: verify → agree → decide → fix → record.

The role only carries it: ``defs_verify`` reads every host (one agent call),
``defs_health_fleet`` agrees across the fleet once (:func:`fleet_marks`), and
``defs_health_host`` runs :func:`run_host` for each host: it decides
(:mod:`decide`), records the checks, and in enforce mode fixes the host in one
``apply`` call (LiveUpdate first when no good set exists, then the same
judgement and decision again on what it brought).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible.errors import AnsibleConnectionFailure

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import (
    assessment,
    consensus,
    decide,
    distpoint,
    health,
    outcome,
    plan,
    read_back,
    steps,
    store_view,
    verify,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed, SmsmseError

MARK_KEYS = ("store", "version", "code", "message")


def usable(result: Any) -> bool:
    """A registered defs_verify result that holds an assessment."""
    return (
        isinstance(result, Mapping)
        and not result.get("failed")
        and not result.get("unreachable")
        and not result.get("skipped")
        and isinstance(result.get("assessment"), Mapping)
    )


def fleet_marks(results: Mapping[str, Any], *, enabled: bool, threshold: float) -> tuple[dict[str, list[dict[str, Any]]], consensus.Tally]:
    """Host name -> the sets fleet consensus marks bad there (every host present, failed ones with none), and the votes."""
    marks: dict[str, list[dict[str, Any]]] = {host: [] for host in results}
    if not enabled:
        return marks, {}
    verifications = {host: r["assessment"]["verification"] for host, r in results.items() if usable(r)}
    votes = consensus.tally(verifications)
    decided = consensus.winners(votes, threshold=threshold)
    for host, verification in verifications.items():
        marks[host] = [as_mark(finding) for finding in consensus.findings(host, verification, decided)]
    return marks, votes


def as_mark(finding: consensus.Finding) -> dict[str, Any]:
    return {k: v for k, v in finding.as_dict().items() if k in MARK_KEYS}


def marks_after_liveupdate(name: str, before: Mapping[str, Any], after: Mapping[str, Any], fleet: Fleet) -> list[dict[str, Any]]:
    """The same fleet consensus on what LiveUpdate brought: this host's votes taken again, the rule applied again."""
    if fleet.votes is None:
        return []
    first, again = before["assessment"]["verification"], after["assessment"]["verification"]
    decided = consensus.winners(consensus.revote(fleet.votes, first, again), threshold=fleet.threshold)
    return [as_mark(finding) for finding in consensus.findings(name, again, decided)]


def agreed_after_liveupdate(before: Mapping[str, Any], after: Mapping[str, Any], fleet: Fleet) -> verify.Agreed:
    """What the fleet decides once this host's votes are taken again on what LiveUpdate brought."""
    if fleet.votes is None:
        return {}
    first, again = before["assessment"]["verification"], after["assessment"]["verification"]
    return consensus.winners(consensus.revote(fleet.votes, first, again), threshold=fleet.threshold)


@dataclass(frozen=True)
class Fleet:
    """What the fleet decided once: the votes per version and digest (None: consensus is off), and the threshold."""

    votes: Mapping[str, Mapping[str, int]] | None = None
    threshold: float = 0.5

    def agreed(self) -> verify.Agreed:
        """Version -> the digest the fleet decided (none when consensus is off): copies with it are proven by ``consensus``."""
        return consensus.winners(self.votes, threshold=self.threshold) if self.votes is not None else {}


@dataclass(frozen=True)
class Options:
    """The role's options that shape one host's run."""

    mode: str
    max_age_days: int
    keep: int
    quarantine: bool
    repair_hawking: bool
    liveupdate: bool
    today: dt.date
    #: where a host with no good set gets one, in order: liveupdate, or a distribution point (defs_health_sources)
    sources: tuple[str, ...] = (distpoint.LIVEUPDATE,)
    #: the versions the trusted catalog lists, newest first (what a distribution point is asked for)
    catalogued: tuple[str, ...] = ()


@dataclass
class Judged:
    """One host as verified and judged: its facts (marks applied), its stores, and what it needs."""

    smsmse_defs: dict[str, Any]
    stores: dict[str, store_view.StoreView]
    decision: decide.Decision
    checks: list[dict[str, Any]]
    #: the decided assessment it was read from (None: facts predicted or read back after a change)
    assessed: assessment.Assessment | None = None

    @classmethod
    def of(cls, decided: assessment.Assessment) -> Judged:
        """The host step's working record of a decided assessment."""
        if decided.decision is None:
            raise ValueError("the assessment has no decision")
        return cls(decided.smsmse_defs, decided.stores(), decided.decision, [dict(c) for c in decided.checks], decided)


@dataclass(frozen=True)
class Agent:
    """The agent calls run_host may make, provided by the action plugin."""

    #: run the steps in one apply call; the checked reply
    apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]
    #: run LiveUpdate; a defs_liveupdate-like result (``failed``, ``msg``)
    liveupdate: Callable[[], Mapping[str, Any]]
    #: verify the host again; a defs_verify-like result
    reverify: Callable[[], Mapping[str, Any]]
    #: bring (source, version) into the host's source store; a defs_import-like result (``failed``, ``msg``, ``error``, ``changed``)
    fetch: Callable[[str, str, Mapping[str, store_view.StoreView]], Mapping[str, Any]] | None = None


def judge(verified: Mapping[str, Any], marks: Sequence[Mapping[str, Any]], opts: Options, agreed: verify.Agreed | None = None) -> Judged:
    """The host's registered assessment with the fleet's marks applied (and its decided versions as proof), decided."""
    return Judged.of(decided(verified, marks, opts, agreed))


def decided(
    verified: Mapping[str, Any], marks: Sequence[Mapping[str, Any]], opts: Options, agreed: verify.Agreed | None = None
) -> assessment.Assessment:
    """The assessment a defs_verify result registered, read back (no parse), marked once and decided once."""
    found = assessment.Assessment.from_dict(verified["assessment"]).marked(marks, agreed)
    return found.decided(repair_hawking=opts.repair_hawking, max_age_days=opts.max_age_days, today=opts.today)


def record(
    name: str,
    judged: Judged | None,
    *,
    checks: Sequence[Mapping[str, Any]],
    actions: Sequence[Mapping[str, Any]],
    status: str,
    message: str,
    today: dt.date,
) -> dict[str, Any]:
    smsmse_defs = judged.smsmse_defs if judged else None
    return health.host_record(name, smsmse_defs=smsmse_defs, checks_=checks, actions=actions, status=status, message=message, today=today)


def planned_actions(decision: decide.Decision, opts: Options | None = None, *, windows: bool = False) -> list[dict[str, Any]]:
    found = []
    if decision.action == decide.LIVEUPDATE and opts is not None:
        found.append(_planned_source(decision, opts, windows=windows))
    elif decision.action != decide.NONE:
        found.append(_planned(decision.action, decision.version, decision.reason))
    found += [_planned("repair_source", None, f"quarantine the bad newest set(s) of {store}") for store in decision.repairs]
    found += [
        _planned("repair_usage", None, f"move the product codes usage.dat gives missing or bad sets of {store} under its active good set")
        for store in decision.usage_repairs
        if store not in decision.repairs
    ]
    return found


def _planned(action: str, version: str | None, message: str) -> dict[str, Any]:
    return {"action": action, "result": "planned", "version": version, "previous": None, "message": message}


def _planned_source(decision: decide.Decision, opts: Options, *, windows: bool) -> dict[str, Any]:
    """The source enforce would try first for a host with no good set, and the version it would bring (report mode plans
    it and changes nothing); a source this host's platform cannot use is named as passed over."""
    enabled = [s for s in opts.sources if s != distpoint.LIVEUPDATE or opts.liveupdate]
    sources = [s for s in enabled if usable_on(s, windows=windows)]
    passed_over = [s for s in enabled if s not in sources]
    if not sources or sources[0] == distpoint.LIVEUPDATE:
        planned = _planned(decide.LIVEUPDATE, decision.version, decision.reason)
        if sources:
            planned["source"] = distpoint.LIVEUPDATE
    else:
        version = opts.catalogued[0] if opts.catalogued else None
        bring = f"the newest catalogued set, {version}," if version else "a set (the trusted catalog lists no version to import)"
        planned = _planned("import", version, f"{decision.reason}; {bring} would come from {sources[0]}")
        planned["source"] = sources[0]
    if len(sources) > 1:
        planned["message"] += f" (then, if it yields no good set: {', '.join(sources[1:])})"
    if passed_over:
        where = "Windows hosts" if windows else "POSIX hosts"
        planned["message"] += f"; passed over, as they cannot be used on {where}: {', '.join(passed_over)}"
    return planned


def usable_on(source: str, *, windows: bool) -> bool:
    """Whether the agent of this platform can fetch from ``source`` (liveupdate: always)."""
    found = distpoint.kind(source)
    return found == distpoint.LIVEUPDATE or distpoint.SUPPORTED[found][1 if windows else 0]


def is_windows(smsmse_defs: Mapping[str, Any]) -> bool:
    """Whether the host is Windows, as its probe said (the lab's Windows agent serves a POSIX host)."""
    host = smsmse_defs.get("host")
    return isinstance(host, Mapping) and host.get("os") == "windows"


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


def carry_out(plans: Sequence[plan.Plan], apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Run every plan's steps in one apply; one action record per plan, read from its slice of the reply."""
    return carry_out_read(plans, apply)[0]


def carry_out_read(
    plans: Sequence[plan.Plan], apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[Mapping[str, Any]] | None]:
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
    actions, start = [], 0
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


def predict(smsmse_defs: Mapping[str, Any], done: Sequence[plan.Plan]) -> dict[str, Any]:
    """The facts as they are once the ``done`` plans succeeded (the agent checked every copy against its manifest)."""
    verification = smsmse_defs["verification"]
    sets = [dict(s) for s in verification["sets"]]
    active = {name: dict(record) for name, record in verification["active"].items()}
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
            copy.update(status="good", errors=[])
        active[store] = {"version": version, "status": "good", "proof": copy["proof"] if copy else verify.STRUCTURE, "errors": []}
    predicted = {**verification, "sets": sets, "active": active, "newest_good": verify.newest_good(sets)}
    stores = {name: dict(record) for name, record in smsmse_defs["stores"].items()}
    for the_plan in done:
        for name, sets_after in the_plan.extra.get("usage", {}).items():
            if stores.get(name, {}).get("usage"):
                stores[name]["usage"] = {**stores[name]["usage"], "sets": sets_after}
    return {**smsmse_defs, "stores": stores, "verification": predicted}


def _quarantined(the_plan: plan.Plan, version: str) -> bool:
    return any(s["op"] == "quarantine" and s["args"]["name"] == version for s in the_plan.steps)


def settle(
    name: str,
    verified: Any,
    marks: Sequence[Mapping[str, Any]],
    opts: Options,
    *,
    agreed: verify.Agreed | None = None,
) -> dict[str, Any] | None:
    """The host's record when it needs no agent call (unreachable, not verified, report mode, nothing to change).

    None when it does: enforce mode and the decision calls for a change (:func:`run_host` makes it).
    The fleet step settles every host this way, once, so that a host that needs nothing costs no task of its own.
    """
    recorded, _judged = _settle(name, verified, marks, opts, agreed=agreed or {})
    return recorded


def settle_verified(
    name: str, verified: Any, marks: Sequence[Mapping[str, Any]], opts: Options, *, agreed: verify.Agreed | None = None
) -> tuple[dict[str, Any] | None, Judged | None]:
    """:func:`settle`, and the judged host (with its decided assessment) when it was judged."""
    return _settle(name, verified, marks, opts, agreed=agreed or {})


def _settle(
    name: str,
    verified: Any,
    marks: Sequence[Mapping[str, Any]],
    opts: Options,
    *,
    agreed: verify.Agreed,
) -> tuple[dict[str, Any] | None, Judged | None]:
    today = opts.today
    if isinstance(verified, Mapping) and verified.get("unreachable"):
        message = str(verified.get("msg", "unreachable"))
        return record(name, None, checks=[], actions=[], status="unreachable", message=message, today=today), None
    if not usable(verified):
        message = str(verified.get("msg", "defs_verify did not run")) if isinstance(verified, Mapping) else "defs_verify did not run"
        return record(name, None, checks=[health.error_check(message)], actions=[], status="failed", message=message, today=today), None
    judged = judge(verified, marks, opts, agreed)
    return settle_judged(name, judged, opts)


def settle_judged(name: str, judged: Judged, opts: Options) -> tuple[dict[str, Any] | None, Judged | None]:
    """The record of a judged host that needs no agent call, or (None, judged) when enforce must change it."""
    today = opts.today
    if opts.mode == "enforce" and judged.decision.needs_change:
        return None, judged
    status = health.status_of(judged.checks, changed=False, failed=False)
    message = judged.decision.reason if judged.decision.action != decide.NONE or not judged.decision.risks else judged.decision.risks[0]
    actions = planned_actions(judged.decision, opts, windows=is_windows(judged.smsmse_defs))
    return record(name, judged, checks=judged.checks, actions=actions, status=status, message=message, today=today), judged


def run_host(
    name: str,
    verified: Any,
    marks: Sequence[Mapping[str, Any]],
    opts: Options,
    *,
    ctx: store_view.Context,
    agent: Agent,
    fleet: Fleet = Fleet(),
    decided_by_fleet: Mapping[str, Any] | None = None,
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
            settled, judged = _settle(name, verified, marks, opts, agreed=fleet.agreed())
    except Exception as exc:  # a reply that passed the contract but that the verdicts cannot use: this host alone fails
        return broken(name, exc, judged=None, checks=[], progress=Progress(doing="judging what the host reported"), today=today)
    if settled is not None or judged is None:
        return {"changed": False, "record": settled}
    first_checks = judged.checks
    progress = Progress(doing="the change")
    try:
        return _enforce(name, verified, judged, opts, progress, ctx=ctx, agent=agent, fleet=fleet)
    except Exception as exc:  # whatever one host raises, its record is written and the fleet's report too
        return broken(name, exc, judged=judged, checks=first_checks, progress=progress, today=today)


@dataclass
class Progress:
    """How far an enforce run on one host got: what it was doing, the actions so far, whether the host changed."""

    doing: str
    actions: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False
    plans: list[plan.Plan] = field(default_factory=list)
    #: the plans were sent to the host and their reply is not read yet: a failure now leaves the change unknown
    changing: bool = False


def _enforce(
    name: str,
    verified: Mapping[str, Any],
    judged: Judged,
    opts: Options,
    progress: Progress,
    *,
    ctx: store_view.Context,
    agent: Agent,
    fleet: Fleet,
) -> dict[str, Any]:
    today, first_checks, actions = opts.today, judged.checks, progress.actions
    runbook = health.RUNBOOK.format(event=_event_name(judged.smsmse_defs))
    fixed_by = None
    if judged.decision.action == decide.LIVEUPDATE:
        healed, why = _from_sources(name, verified, judged, opts, progress, agent=agent, fleet=fleet)
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
                action.update(result="failed", message=lost)
        return _failed(name, fixed, after_checks, actions, "; ".join(races), today, changed)
    status = health.status_of(after_checks, changed=changed, failed=False)
    message = "; ".join(p.message for p in plans) or judged.decision.reason
    if fixed_by is not None:
        message = f"a good set came from {fixed_by}; {message}"
    return {
        "changed": changed,
        "record": record(name, fixed, checks=after_checks, actions=actions, status=status, message=message, today=today),
    }


#: how many catalogued versions one distribution point is asked for before the next source is tried
VERSIONS_PER_SOURCE = 3
#: fetch refusals that say this version is unusable there (the next older one may be fine); others end the source
_TRY_OLDER = frozenset({"SOURCE_MISMATCH", "SOURCE_NOT_FOUND"})


def _from_sources(
    name: str,
    verified: Mapping[str, Any],
    judged: Judged,
    opts: Options,
    progress: Progress,
    *,
    agent: Agent,
    fleet: Fleet,
) -> tuple[tuple[Judged, str] | None, str]:
    """Each source in order until one yields a good set: ((the host judged again, the source), "") or (None, why not)."""
    sources = [s for s in opts.sources if s != distpoint.LIVEUPDATE or opts.liveupdate]
    if not sources:
        if tuple(opts.sources) == (distpoint.LIVEUPDATE,):
            return None, "No good set exists and LiveUpdate is disabled."
        return None, "No good set exists and no source is enabled (defs_health_sources, defs_health_liveupdate)."
    why: list[tuple[str, str]] = []
    for source in sources:
        shown = "LiveUpdate" if source == distpoint.LIVEUPDATE else source
        for attempt in _attempts(source, judged, opts, agent):
            progress.doing = "LiveUpdate" if source == distpoint.LIVEUPDATE else f"the import from {source}"
            ran = attempt()
            progress.actions.append(_action("liveupdate" if source == distpoint.LIVEUPDATE else "import", ran, source=source))
            progress.changed = progress.changed or bool(ran.get("changed", not ran.get("failed")))
            if ran.get("failed"):
                why.append((shown, str(ran.get("msg", "failed"))))
                if (ran.get("error") or {}).get("code") in _TRY_OLDER:
                    continue
                break
            progress.doing = f"the verification after {'LiveUpdate' if source == distpoint.LIVEUPDATE else 'the import'}"
            again = agent.reverify()
            if not usable(again):
                why.append((shown, str(again.get("msg", "not verified afterwards"))))
                break
            after = judge(
                again,
                marks_after_liveupdate(name, verified, again, fleet),
                opts,
                agreed_after_liveupdate(verified, again, fleet),
            )
            if after.decision.action != decide.LIVEUPDATE:
                progress.actions[-1]["fixed"] = True  # the source that healed the host: the reports' fixed_by
                return (after, shown), ""
            why.append((shown, f"{shown} brought no good set."))
            break
    if len(why) == 1:
        return None, why[0][1]
    return None, "No source yielded a good set: " + "; ".join(f"{source}: {text}" for source, text in why)


def _attempts(source: str, judged: Judged, opts: Options, agent: Agent) -> list[Callable[[], Mapping[str, Any]]]:
    """What asking ``source`` means: LiveUpdate once, or a distribution point for each catalogued version the host does
    not hold good, newest first (at most :data:`VERSIONS_PER_SOURCE`)."""
    if source == distpoint.LIVEUPDATE:
        return [agent.liveupdate]
    fetch = agent.fetch
    if fetch is None:
        return [lambda: {"failed": True, "msg": "this run cannot fetch from a distribution point"}]
    held = {s["version"] for s in judged.smsmse_defs["verification"]["sets"] if s["status"] == store_view.GOOD}
    wanted = [v for v in opts.catalogued if v not in held][:VERSIONS_PER_SOURCE]
    if not wanted:
        return [lambda: {"failed": True, "msg": "the trusted catalog lists no version this host lacks"}]
    return [functools.partial(fetch, source, version, judged.stores) for version in wanted]


def broken(
    name: str,
    exc: BaseException,
    *,
    judged: Judged | None,
    checks: Sequence[Mapping[str, Any]],
    progress: Progress,
    today: dt.date,
) -> dict[str, Any]:
    """The record of a host whose run raised: ``unreachable`` when the connection broke, else ``failed``, with the error text.

    A connection that broke during the change leaves it unknown whether the change was made: each planned change is
    recorded as failed with that, and the host counts as changed (the next run reads it afresh).
    """
    text = str(exc) if isinstance(exc, SmsmseError) or connection_broke(exc) else f"{type(exc).__name__}: {exc}"
    actions = list(progress.actions)
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


def record_of_result(name: str, result: Any, today: dt.date) -> dict[str, Any]:
    """The host's report record from its registered defs_health_host result; one is made when the result holds none.

    A task that failed before it could record the host (a templating error, a lost connection, a bug) still gives the
    report a ``failed`` (or ``unreachable``) record with its message, so that one host never stops the fleet's report.
    """
    if isinstance(result, Mapping) and isinstance(result.get("record"), Mapping) and result["record"].get("name") == name:
        return dict(result["record"])
    if not isinstance(result, Mapping):
        message = "the host was not recorded (its defs_health_host task did not run)"
        return record(name, None, checks=[health.error_check(message)], actions=[], status="failed", message=message, today=today)
    message = str(result.get("msg") or "the host's defs_health_host task gave no record")
    if result.get("unreachable"):
        return record(name, None, checks=[], actions=[], status="unreachable", message=message, today=today)
    if result.get("skipped"):
        message = f"the host was skipped: {result.get('skip_reason') or message}"
    return record(name, None, checks=[health.error_check(message)], actions=[], status="failed", message=message, today=today)


def _failed(  # noqa: PLR0917 - the failure paths of run_host pass the same seven things
    name: str,
    judged: Judged,
    checks: Sequence[Mapping[str, Any]],
    actions: Sequence[Mapping[str, Any]],
    message: str,
    today: dt.date,
    changed: bool = False,
) -> dict[str, Any]:
    return {
        "changed": changed,
        "record": record(name, judged, checks=checks, actions=actions, status="failed", message=message, today=today),
    }


def _action(kind: str, result: Mapping[str, Any], *, source: str | None = None) -> dict[str, Any]:
    found = {
        "action": kind,
        "result": "failed" if result.get("failed") else "done",
        "version": result.get("version"),
        "previous": result.get("previous"),
        "message": str(result.get("msg", "")),
    }
    if source is not None:
        found["source"] = source
    return found


def _event_name(smsmse_defs: Mapping[str, Any]) -> str:
    ids = smsmse_defs["product"].get("event_ids")
    return f"the product's event {ids['init_failed']}" if ids else "the product's event 401 (6.5.x) or 395 (6.0.x)"
