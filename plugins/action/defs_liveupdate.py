# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_liveupdate: one agent call that runs LiveUpdate."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

LUALL_CANDIDATES = (r"%ProgramFiles(x86)%\Symantec\LiveUpdate\LuALL.exe", r"%ProgramFiles%\Symantec\LiveUpdate\LuALL.exe")


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_liveupdate.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        windows = probe.is_windows(self)
        if options["timeout"] < 1:
            raise SmsmseError("OPTION_INVALID", "`timeout` must be at least 1 second.")
        if self._task.check_mode:
            return {"changed": True, "msg": "LiveUpdate would run"}
        request = {
            "luall_candidates": [options["luall_path"]] if options["luall_path"] else list(LUALL_CANDIDATES),
            "arguments": options["arguments"],
            "command": None if windows else options["command"],
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
