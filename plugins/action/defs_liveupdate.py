# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_liveupdate: one agent call that runs LiveUpdate."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_liveupdate.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        if options["timeout"] < 1:
            raise SmsmseError("OPTION_INVALID", "`timeout` must be at least 1 second.")
        if self._task.check_mode:
            return {"changed": True, "msg": "LiveUpdate would run"}
        return liveupdate.run(
            self,
            task_vars,
            command=options["command"],
            timeout=options["timeout"],
            luall_path=options["luall_path"],
            arguments=options["arguments"],
        )
