# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_liveupdate: one agent call that runs LiveUpdate."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import LiveUpdateOptions


class ActionModule(DocumentedAction[LiveUpdateOptions]):
    DOCUMENTATION = defs_liveupdate.DOCUMENTATION
    HOST_VARIABLES = {"command": "smsmse_defs_liveupdate_command"}

    def act(self, options: LiveUpdateOptions, task_vars: TaskVars) -> dict[str, Any]:
        command = liveupdate.argv(options["command"])
        if self._task.check_mode:
            return {"changed": True, "msg": "LiveUpdate would run"}
        return liveupdate.run(
            self,
            task_vars,
            command=command,
            timeout=options["timeout"],
            luall_path=options["luall_path"],
            arguments=options["arguments"],
        )
