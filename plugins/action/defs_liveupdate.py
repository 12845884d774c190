# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_liveupdate: one agent call that runs LiveUpdate."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_liveupdate import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, argspec, probe
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

ARGUMENT_SPEC = argspec.from_documentation(DOCUMENTATION)
LUALL_CANDIDATES = (r"%ProgramFiles(x86)%\Symantec\LiveUpdate\LuALL.exe", r"%ProgramFiles%\Symantec\LiveUpdate\LuALL.exe")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result: dict[str, Any] = super().run(tmp, task_vars)
        options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        windows = probe.is_windows(self)
        if options["timeout"] < 1:
            return {**result, "failed": True, "msg": "OPTION_INVALID: `timeout` must be at least 1 second."}
        if self._task.check_mode:
            return {**result, "changed": True, "msg": "LiveUpdate would run"}
        request = {
            "luall_candidates": [options["luall_path"]] if options["luall_path"] else list(LUALL_CANDIDATES),
            "arguments": options["arguments"],
            "command": None if windows else options["command"],
            "timeout": options["timeout"],
        }
        try:
            reply = agent.call(self._execute_module, is_windows=windows, op="run_liveupdate", request=request, task_vars=task_vars or {})
        except SmsmseError as exc:
            return {**result, "failed": True, "msg": str(exc), "error": exc.as_dict()}
        result.update(changed=reply["result"] == "done", exit_code=reply["exit_code"], duration=reply["duration"], program=reply["program"])
        result["output"] = reply["output"]
        if reply["result"] != "done":
            error = SmsmseError(
                "LIVEUPDATE_FAILED", f"LiveUpdate {reply['result'].replace('_', ' ')}: {reply['output'][-500:] or 'no output'}"
            )
            result.update(failed=True, msg=str(error), error=error.as_dict())
        else:
            result["msg"] = f"LiveUpdate finished in {reply['duration']} s"
        return result
