"""The fleet step of the defs_health role: each host's registered assessment read back, marked with the fleet's
consensus once and decided once; a host that needs no agent call is recorded here (:func:`settle`), with the actions
report mode plans for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import distpoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide, health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import narrow
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_run_types import Action, Judged, Options
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify


def usable(result: object) -> TypeGuard[Mapping[str, object]]:
    """A registered defs_verify result that holds an assessment."""
    return (
        isinstance(result, Mapping)
        and not result.get("failed")
        and not result.get("unreachable")
        and not result.get("skipped")
        and isinstance(result.get("assessment"), Mapping)
    )


def assessment_of(result: Mapping[str, object]) -> Mapping[str, object]:
    """The serialised assessment a defs_verify result registered (``Assessment.to_dict``); KeyError when it has none."""
    return narrow.mapping(result["assessment"], "the registered assessment")


def verification_of(result: Mapping[str, object]) -> verify.Verification:
    """The verdicts of the assessment a defs_verify result registered: defs_verify wrote them (``verify.judge``)."""
    return cast(verify.Verification, assessment_of(result)["verification"])


def fleet_marks(
    results: Mapping[str, object], *, enabled: bool, threshold: float
) -> tuple[dict[str, list[dict[str, str]]], consensus.Tally]:
    """Host name -> the sets fleet consensus marks bad there (every host present, failed ones with none), and the votes."""
    marks: dict[str, list[dict[str, str]]] = {host: [] for host in results}
    if not enabled:
        return marks, {}
    verifications = {host: verification_of(r) for host, r in results.items() if usable(r)}
    votes = consensus.tally(verifications)
    decided = consensus.winners(votes, threshold=threshold)
    for host, verification in verifications.items():
        marks[host] = [as_mark(finding) for finding in consensus.findings(host, verification, decided)]
    return marks, votes


def as_mark(finding: consensus.Finding) -> dict[str, str]:
    found = finding.as_dict()
    return {"code": found["code"], "message": found["message"], "store": found["store"], "version": found["version"]}


def judge(verified: Mapping[str, object], marks: Sequence[Mapping[str, str]], opts: Options, agreed: verify.Agreed | None = None) -> Judged:
    """The host's registered assessment with the fleet's marks applied (and its decided versions as proof), decided."""
    return Judged.of(decided(verified, marks, opts, agreed))


def decided(
    verified: Mapping[str, object], marks: Sequence[Mapping[str, str]], opts: Options, agreed: verify.Agreed | None = None
) -> assessment.Assessment:
    """The assessment a defs_verify result registered, read back (no parse), marked once and decided once."""
    found = assessment.Assessment.from_dict(assessment_of(verified)).marked(marks, agreed)
    return found.decided(repair_hawking=opts.repair_hawking, max_age_days=opts.max_age_days, today=opts.today)


def record(
    name: str,
    judged: Judged | None,
    *,
    checks: Sequence[Mapping[str, object]],
    actions: Sequence[Action],
    status: str,
    message: str,
    today: dt.date,
) -> dict[str, Any]:
    smsmse_defs = judged.smsmse_defs if judged else None
    return health.host_record(name, smsmse_defs=smsmse_defs, checks_=checks, actions=actions, status=status, message=message, today=today)


def planned_actions(decision: decide.Decision, opts: Options | None = None, *, windows: bool = False) -> list[Action]:
    found: list[Action] = []
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


def _planned(action: str, version: str | None, message: str) -> Action:
    return {"action": action, "result": "planned", "version": version, "previous": None, "message": message}


def _planned_source(decision: decide.Decision, opts: Options, *, windows: bool) -> Action:
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


def is_windows(smsmse_defs: Mapping[str, object]) -> bool:
    """Whether the host is Windows, as its probe said (the lab's Windows agent serves a POSIX host)."""
    host = smsmse_defs.get("host")
    return isinstance(host, Mapping) and host.get("os") == "windows"


def settle(
    name: str,
    verified: object,
    marks: Sequence[Mapping[str, str]],
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
    name: str, verified: object, marks: Sequence[Mapping[str, str]], opts: Options, *, agreed: verify.Agreed | None = None
) -> tuple[dict[str, Any] | None, Judged | None]:
    """:func:`settle`, and the judged host (with its decided assessment) when it was judged."""
    return _settle(name, verified, marks, opts, agreed=agreed or {})


def _settle(
    name: str,
    verified: object,
    marks: Sequence[Mapping[str, str]],
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


def record_of_result(name: str, result: object, today: dt.date) -> dict[str, Any]:
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
