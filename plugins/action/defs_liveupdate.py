# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_liveupdate: one agent call that runs LiveUpdate."""

from __future__ import annotations

import shlex
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

LUALL_CANDIDATES = (r"%ProgramFiles(x86)%\Symantec\LiveUpdate\LuALL.exe", r"%ProgramFiles%\Symantec\LiveUpdate\LuALL.exe")


def command_argv(command: Any) -> list[str] | None:
    """The LiveUpdate command as an argument list: a list as given, a string split as a shell would split it."""
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


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_liveupdate.DOCUMENTATION
    HOST_VARIABLES = {"command": "smsmse_defs_liveupdate_command"}

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        windows = probe.is_windows(self)
        command = command_argv(options["command"])
        if self._task.check_mode:
            return {"changed": True, "msg": "LiveUpdate would run"}
        request = {
            "luall_candidates": [options["luall_path"]] if options["luall_path"] else list(LUALL_CANDIDATES),
            "arguments": options["arguments"],
            "command": None if windows else command,
            "timeout": options["timeout"],
        }
        reply = agent.call(self._execute_module, is_windows=windows, op="run_liveupdate", request=request, task_vars=task_vars)
        result = {
            "changed": reply["result"] == "done",
            "exit_code": reply["exit_code"],
            "duration": reply["duration"],
            "program": reply["program"],
            "output": reply["output"],
        }
        if reply["result"] != "done":
            error = SmsmseError(
                "LIVEUPDATE_FAILED", f"LiveUpdate {reply['result'].replace('_', ' ')}: {reply['output'][-500:] or 'no output'}"
            )
            return {**result, "failed": True, "msg": str(error), "error": error.as_dict()}
        return {**result, "msg": f"LiveUpdate finished in {reply['duration']} s"}
