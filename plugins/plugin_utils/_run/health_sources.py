"""A host with no good set in the defs_health role: each source in turn (LiveUpdate, a distribution point) until one
yields a good set, the host verified again and judged afresh (the fleet's consensus taken again on what it brought)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import distpoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_judge import as_mark, judge, usable, verification_of
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_run_types import Action, Agent, Fleet, Judged, Options, Progress
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.error_codes import Code, code_of


def marks_after_liveupdate(name: str, before: Mapping[str, object], after: Mapping[str, object], fleet: Fleet) -> list[dict[str, str]]:
    """The same fleet consensus on what LiveUpdate brought: this host's votes taken again, the rule applied again.

    ``before``, ``after``: the host's registered defs_verify results before and after (:func:`health_judge.usable`).
    """
    if fleet.votes is None:
        return []
    first, again = verification_of(before), verification_of(after)
    decided = consensus.winners(consensus.revote(fleet.votes, first, again), threshold=fleet.threshold)
    return [as_mark(finding) for finding in consensus.findings(name, again, decided)]


def agreed_after_liveupdate(before: Mapping[str, object], after: Mapping[str, object], fleet: Fleet) -> verify.Agreed:
    """What the fleet decides once this host's votes are taken again on what LiveUpdate brought."""
    if fleet.votes is None:
        return {}
    first, again = verification_of(before), verification_of(after)
    return consensus.winners(consensus.revote(fleet.votes, first, again), threshold=fleet.threshold)


#: how many catalogued versions one distribution point is asked for before the next source is tried
VERSIONS_PER_SOURCE = 3

#: fetch refusals that say this version is unusable there (the next older one may be fine); others end the source
_TRY_OLDER = frozenset({Code.SOURCE_MISMATCH, Code.SOURCE_NOT_FOUND})


def from_sources(
    name: str,
    verified: Mapping[str, object],
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
                if code_of(ran.get("error")) in _TRY_OLDER:
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


def _attempts(source: str, judged: Judged, opts: Options, agent: Agent) -> list[Callable[[], Mapping[str, object]]]:
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


def _action(kind: str, result: Mapping[str, object], *, source: str | None = None) -> Action:
    """The action record of a LiveUpdate or import result (a defs_liveupdate- or defs_import-like result)."""
    found: Action = {
        "action": kind,
        "result": "failed" if result.get("failed") else "done",
        "version": _version(result.get("version")),
        "previous": _version(result.get("previous")),
        "message": str(result.get("msg", "")),
    }
    if source is not None:
        found["source"] = source
    return found


def _version(value: object) -> str | None:
    """A version a result names: the text, or None when it names none."""
    return value if isinstance(value, str) else None
