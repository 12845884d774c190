"""What defs_promote, defs_rollback and the role share: read and verify the host, then carry out a plan.

A host costs two agent calls when it needs a change (a hashing probe, then one
``apply`` with every step of the change) and one when it does not; check mode
never makes the second. Given the ``assessment`` a defs_verify task returned
(option ``state``), the probe is skipped (the change's compare-and-swap still refuses if the host moved
on meanwhile). What the reply means is decided by :mod:`outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, read_back, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, contract, installed, probe, snapshot, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import BadSet, ChangeOptions, ContextOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog, privacy, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.error_codes import Code, code_of
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed, SmsmseError

#: result keys a plan sets to say what its change does; after the apply, true only when the change was made
DONE_FLAGS = ("rolled_back", "replaced_in_place", "downgrade")
#: how long the service may take to stop or start (Windows), or the restart command to run (POSIX)
SERVICE_TIMEOUT = 120


def read_host(
    action: ActionBase, task_vars: Mapping[str, object], options: ChangeOptions
) -> tuple[dict[str, store_view.StoreView], dict[str, Any], snapshot.Snapshot]:
    """One hashing probe (or the ``state`` a defs_verify task registered), judged as defs_verify judges it: the stores,
    their verdicts, and the host as read."""
    trusted = catalog.from_options(options, record_state=not action._task.check_mode)
    overrides = {**(options["stores"] or {}), **{k: v for k, v in (options.get("extra_stores") or {}).items() if v}}
    marks = [verify.Mark(mark["store"], mark["version"], marked(mark)) for mark in options["bad_sets"]]
    if options["state"]:
        given = _assessment_from_state(options["state"], overrides)
        found = assessment.rejudged(given, required_files=options["required_files"], trusted=trusted, marks=marks)
    else:
        reply = probe.run(action, task_vars, options, hashing=probe.hashing(options))
        found = assessment.assess(reply, overrides=overrides, required_files=options["required_files"], trusted=trusted, marks=marks)
    return found.stores(), dict(found.verification), found.snapshot


_MARKED: ProblemRecord = {
    "code": "CONSENSUS_MINORITY",
    "message": "Marked bad by the caller (bad_sets), for example by fleet consensus.",
    "path": None,
}


def marked(mark: BadSet) -> ProblemRecord:
    """The problem a ``bad_sets`` entry (its options are strings) gives its set: its own code and message when given
    (the filter's), else the default."""
    return {"code": mark.get("code") or _MARKED["code"], "message": mark.get("message") or _MARKED["message"], "path": None}


def _assessment_from_state(state: object, overrides: Mapping[str, str | None]) -> assessment.Assessment:
    """The assessment a defs_verify task returned, checked against its schema; it must have been read with these stores."""
    given = assessment.checked(state, option="state")
    if {k: v for k, v in given.overrides.items() if v} != {k: v for k, v in overrides.items() if v}:
        raise SmsmseError(
            "OPTION_INVALID",
            "`state` was read with other store paths than this task gives (`stores`, `source_path`): "
            "verify with the same paths, or leave `state` out so that the host is read again.",
        )
    return given


def context(options: ContextOptions, windows: bool, detected: Mapping[str, object] | None = None) -> store_view.Context:
    """The plan context from the change options: lock, events, restart, and the wire names.

    ``detected``: the product as the controller found it (``installed.detect``, or the facts' ``product``), whose
    ``service`` is restarted unless ``service_name`` names one.
    """
    wire = contract.wire()
    restart = None
    if options.get("restart_service"):
        restart = steps.Restart(
            windows=windows,
            service=installed.service_to_restart(options.get("service_name"), detected) if windows else None,
            command=None if windows else options.get("restart_command"),
            timeout=SERVICE_TIMEOUT,
        )
    return store_view.Context(
        windows=windows,
        stale_seconds=options["lock_stale_seconds"],
        events_file=None if windows else options.get("events_file"),
        restart=restart,
        staging_prefix=wire["staging_prefix"],
        trash_prefix=wire["trash_prefix"],
        exchange_aside_prefix=wire["exchange_aside_prefix"],
    )


def result_of(the_plan: plan.Plan, *, diff: bool) -> dict[str, Any]:
    """The task result a plan promises before it runs (check mode returns this)."""
    result: dict[str, Any] = {
        "changed": the_plan.changes,
        "store": the_plan.store,
        "version": the_plan.version,
        "previous": the_plan.previous,
        "msg": the_plan.message,
        **the_plan.extra,
    }
    if the_plan.changes and diff:
        result["diff"] = the_plan.diff
    return result


def apply(action: ActionBase, task_vars: Mapping[str, object], plan_steps: Sequence[steps.Step], cache_dir: str | None) -> dict[str, Any]:
    """Run the steps on the host in one ``apply`` call and read the reply: the outcome's result keys."""
    return apply_read(action, task_vars, plan_steps, cache_dir)[0]


def apply_read(
    action: ActionBase, task_vars: Mapping[str, object], plan_steps: Sequence[steps.Step], cache_dir: str | None
) -> tuple[dict[str, Any], list[Mapping[str, Any]] | None]:
    """:func:`apply`, and the stores as the agent read them after the last step (None: the reply holds no read)."""
    request = steps.request(plan_steps, wire=contract.wire(), cache_dir=cache_dir, store_privacy=privacy.of_task(action))
    try:
        reply = agent.call(
            action._execute_module, is_windows=probe.is_windows(action), op="apply", request=dict(request), task_vars=dict(task_vars)
        )
    except AgentFailed as exc:  # the agent died or the connection broke: what happened is not known
        return outcome.interpret(request, None, str(exc)), None
    return outcome.interpret(request, reply), reply.get("read_back")


def carry_out(
    action: ActionBase,
    task_vars: Mapping[str, object],
    the_plan: plan.Plan,
    cache_dir: str | None,
    *,
    stores: Mapping[str, store_view.StoreView] | None = None,
) -> dict[str, Any]:
    """Run the plan (unless in check mode) and return the task result, exactly as the host's reply says it went.

    Given the ``stores`` the plan was made from, the read at the end of the reply decides whether the change
    stands: a store the product pointed elsewhere meanwhile (or left on a set that is not good) is a
    ``CHANGE_CONFLICT`` naming what is there, never a change reported done.
    """
    result = result_of(the_plan, diff=bool(action._task.diff))
    if not the_plan.changes or action._task.check_mode:
        return result
    done, read = apply_read(action, task_vars, the_plan.steps, cache_dir)
    if done.get("failed") and not done.get("changed"):
        result.pop("diff", None)
    result.update(done)
    made = bool(done.get("changed")) and code_of(done.get("error")) is not Code.CHANGE_UNKNOWN
    lost = [] if done.get("failed") or read is None or stores is None else _lost_races(the_plan, stores, read)
    for key in DONE_FLAGS:  # what the plan promised is true only when the host says the change was made
        if key in result:
            result[key] = bool(result[key]) and made and not lost
    if lost:
        detail = "; ".join(text.removeprefix("CHANGE_CONFLICT: ") for text in lost)
        result.update(failed=True, msg=lost[0] if len(lost) == 1 else f"CHANGE_CONFLICT: {detail}")
        result["error"] = {"code": "CHANGE_CONFLICT", "message": detail, "msg": result["msg"]}
    elif not done.get("failed"):
        result["msg"] = the_plan.message
    return result


def _lost_races(the_plan: plan.Plan, stores: Mapping[str, store_view.StoreView], read: Sequence[Mapping[str, object]]) -> list[str]:
    """What the read at the end of the call says against the plan: each store not left at a good set, and why."""
    goods = read_back.good_copies(stores)
    by_path = {view.path: name for name, view in stores.items()}
    seen = {
        by_path[str(record["store"])]: read_back.observe(record, goods, windows=stores[by_path[str(record["store"])]].windows)
        for record in read_back.records(read)
        if str(record["store"]) in by_path
    }
    lost = [text.replace("Run enforce again.", "Run the task again.") for text in read_back.lost_races([the_plan], seen, stores)]
    observed = seen.get(the_plan.store)
    now = the_plan.version if observed is None else observed["version"]
    if not lost and now != the_plan.version:  # a good set, but not the one this task put there
        path = stores[the_plan.store].path
        lost.append(
            f"CHANGE_CONFLICT: {the_plan.store} ({path}) names {now} after the change, not {the_plan.version}: "
            "the product changed it meanwhile. Run the task again."
        )
    return lost
