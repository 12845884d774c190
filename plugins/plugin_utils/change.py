"""What defs_promote and defs_rollback share: read and verify the host, then carry out a plan.

A host costs two agent calls when it needs a change (a hashing probe, then the
change) and one when it does not; check mode never makes the second. Given the
``state`` a defs_verify task returned, the probe is skipped (the change's
compare-and-swap still refuses if the host moved on meanwhile).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, catalog, contract, plan, probe, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: agent result -> (error code, what the task says)
REFUSALS: dict[str, str] = {
    "conflict": "CHANGE_CONFLICT",
    "locked": "STORE_LOCKED",
    "source_changed": "SOURCE_CHANGED",
    "no_fallback": "NO_FALLBACK",
    "failed": "CHANGE_FAILED",
}


def read_host(action: Any, task_vars: Mapping[str, Any], options: Mapping[str, Any]) -> tuple[dict[str, plan.StoreView], dict[str, Any]]:
    """One hashing probe, judged as defs_verify judges it: the stores and their verdicts."""
    trusted = catalog.from_options(options, record_state=not action._task.check_mode)
    if options["state"]:
        reply = _reply_from_state(options["state"])
    else:
        reply = probe.run(action, task_vars, options, hashing=probe.hashing(options))
    overrides = {**(options["stores"] or {}), **{k: v for k, v in (options.get("extra_stores") or {}).items() if v}}
    verification = verify.verify_host(reply, overrides=overrides, required_files=options["required_files"], catalog=trusted)
    marks = [(mark["store"], mark["version"], _MARKED) for mark in options["bad_sets"]]
    verification = verify.mark_bad(verification, marks)
    return plan.view(reply, verification, overrides), verification


_MARKED = {"code": "CONSENSUS_MINORITY", "message": "Marked bad by the caller (bad_sets), for example by fleet consensus.", "path": None}


def _reply_from_state(state: Mapping[str, Any]) -> dict[str, Any]:
    """The probe reply a defs_verify task returned as ``state``: checked against the contract again, hashes required."""
    reply = contract.check_reply("probe", state.get("reply"))
    if not all("sha256" in f for store in reply["stores"] for d in store["dirs"] for f in d["files"]):
        raise SmsmseError("OPTION_INVALID", "`state` is not the state of a defs_verify task (its files carry no digests).")
    return reply


def common_request(options: Mapping[str, Any], windows: bool) -> dict[str, Any]:
    """The parts of a change request that come straight from the options."""
    restart = None
    if options["restart_service"]:
        restart = {
            "service": options["service_name"] if windows else None,
            "command": None if windows else options["restart_command"],
            "timeout": 120,
        }
    return {
        "lock_stale_seconds": options["lock_stale_seconds"],
        "cache_dir": options["hash_cache_dir"],
        "events_file": None if windows else options["events_file"],
        "restart": restart,
    }


def carry_out(action: Any, task_vars: Mapping[str, Any], the_plan: plan.Plan) -> dict[str, Any]:
    """Run the plan's agent operation (unless in check mode) and return the task result."""
    result: dict[str, Any] = {
        "changed": the_plan.changes,
        "store": the_plan.store,
        "version": the_plan.version,
        "previous": the_plan.previous,
        "msg": the_plan.message,
        **the_plan.extra,
    }
    if the_plan.changes and action._task.diff:
        result["diff"] = the_plan.diff
    if not the_plan.changes or action._task.check_mode:
        return result
    if the_plan.op is None or the_plan.request is None:  # a plan with changes always has both
        raise SmsmseError("CHANGE_FAILED", f"The plan for {the_plan.store} has no operation to carry out (a bug).")
    reply = agent.call(
        action._execute_module, is_windows=probe.is_windows(action), op=the_plan.op, request=the_plan.request, task_vars=dict(task_vars)
    )
    if reply["result"] != "done":
        raise SmsmseError(REFUSALS[reply["result"]], f"Nothing was changed on {the_plan.store}: {reply['message']}.")
    result.update(
        installed=reply["installed"],
        removed=reply["removed"],
        cleaned=reply["cleaned"],
        quarantined=reply["quarantined"],
        bytes_copied=reply["bytes_copied"],
        restarted=reply["restarted"],
    )
    if reply["lock_broken"]:
        result.setdefault("warnings", []).append(f"a stale lock was broken: {reply['lock_broken']}")
    result.setdefault("warnings", []).extend(reply["warnings"])
    return result
