"""Running LiveUpdate on a host through the agent: shared by defs_liveupdate and the defs_health role."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

LUALL_CANDIDATES = (r"%ProgramFiles(x86)%\Symantec\LiveUpdate\LuALL.exe", r"%ProgramFiles%\Symantec\LiveUpdate\LuALL.exe")
DEFAULT_ARGUMENTS = ("-s",)
#: exit codes of the update program that mean it succeeded (the agents report the code; this judges it)
SUCCESS_EXIT_CODES = frozenset({0})


def _ended(reply: Mapping[str, object]) -> str:
    """How the run ended, in words, from the agent's reply."""
    if reply["result"] == "exited":
        return "exited without an exit code" if reply["exit_code"] is None else f"exited with code {reply['exit_code']}"
    return str(reply["result"]).replace("_", " ")


def argv(command: object) -> list[str] | None:
    """The LiveUpdate command option as an argument list: a list as given, a string split as a shell would split it."""
    if command is None:
        return None
    if isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise SmsmseError("OPTION_INVALID", f"`command` cannot be split into arguments ({exc}): check its quotes.") from None
    elif isinstance(command, list) and all(isinstance(arg, (str, int, float)) and not isinstance(arg, bool) for arg in command):
        argv = [str(arg) for arg in command]
    else:
        raise SmsmseError("OPTION_INVALID", "`command` must be a list of arguments or one command line (a string).")
    if not argv:
        raise SmsmseError("OPTION_INVALID", "`command` is empty: give the program that updates the Hawking store.")
    return argv


def run(
    action: ActionBase,
    task_vars: Mapping[str, object],
    *,
    command: Sequence[str] | None,
    timeout: int,
    luall_path: str | None = None,
    arguments: Sequence[str] = DEFAULT_ARGUMENTS,
) -> dict[str, Any]:
    """Run LiveUpdate once and wait; the task result (``failed`` with LIVEUPDATE_FAILED when it did not finish well)."""
    windows = probe.is_windows(action)
    request = {
        "luall_candidates": [luall_path] if luall_path else list(LUALL_CANDIDATES),
        "arguments": list(arguments),
        "command": None if windows else (list(command) if command else None),
        "timeout": timeout,
    }
    reply = agent.call(action._execute_module, is_windows=windows, op="run_liveupdate", request=request, task_vars=dict(task_vars))
    succeeded = reply["result"] == "exited" and reply["exit_code"] in SUCCESS_EXIT_CODES
    result = {
        "changed": succeeded,
        "exit_code": reply["exit_code"],
        "duration": reply["duration"],
        "program": reply["program"],
        "output": reply["output"],
    }
    if not succeeded:
        error = SmsmseError("LIVEUPDATE_FAILED", f"LiveUpdate {_ended(reply)}: {reply['output'][-500:] or 'no output'}")
        return {**result, "failed": True, "msg": str(error), "error": error.as_dict()}
    return {**result, "msg": f"LiveUpdate finished in {reply['duration']} s"}
