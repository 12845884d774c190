# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_verify: trust the catalog, one hashing probe, verdicts out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import VerifyOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify_task


class ActionModule(DocumentedAction[VerifyOptions]):
    DOCUMENTATION = defs_verify.DOCUMENTATION

    def act(self, options: VerifyOptions, task_vars: TaskVars) -> dict[str, Any]:
        return verify_task.run(self, task_vars, options)
