# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_health_check: the role's controller-side options, once (role_options.check)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_health_check
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import role_options
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HealthCheckOptions


class ActionModule(DocumentedAction[HealthCheckOptions]):
    DOCUMENTATION = defs_health_check.DOCUMENTATION

    def act(self, options: HealthCheckOptions, task_vars: TaskVars) -> dict[str, Any]:
        role_options.check(options["options"], now=dt.datetime.now(dt.timezone.utc))
        return {"changed": False}
