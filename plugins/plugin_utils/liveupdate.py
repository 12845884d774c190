"""Running LiveUpdate on a host through the agent: shared by defs_liveupdate and the defs_health role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

LUALL_CANDIDATES = (r"%ProgramFiles(x86)%\Symantec\LiveUpdate\LuALL.exe", r"%ProgramFiles%\Symantec\LiveUpdate\LuALL.exe")
DEFAULT_ARGUMENTS = ("-s",)


def run(
    action: Any,
    task_vars: Mapping[str, Any],
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
    result = {
        "changed": reply["result"] == "done",
        "exit_code": reply["exit_code"],
        "duration": reply["duration"],
        "program": reply["program"],
        "output": reply["output"],
    }
    if reply["result"] != "done":
        error = SmsmseError("LIVEUPDATE_FAILED", f"LiveUpdate {reply['result'].replace('_', ' ')}: {reply['output'][-500:] or 'no output'}")
        return {**result, "failed": True, "msg": str(error), "error": error.as_dict()}
    return {**result, "msg": f"LiveUpdate finished in {reply['duration']} s"}
