# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_health_fleet: fleet consensus once, from every host's defs_verify result."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_health_fleet
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_health_fleet.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        if not 0.5 <= options["threshold"] < 1:
            raise SmsmseError("OPTION_INVALID", f"`threshold` is {options['threshold']}: use a fraction from 0.5 to below 1.")
        hostvars = task_vars.get("hostvars", {})
        results = {host: _registered(hostvars, host, options["result_var"]) for host in options["hosts"]}
        marks, votes = health_run.fleet_marks(results, enabled=options["consensus"], threshold=options["threshold"])
        return {"changed": False, "marks": marks, "votes": votes if options["consensus"] else None, "threshold": options["threshold"]}


def _registered(hostvars: Any, host: str, name: str) -> Any:
    try:
        return hostvars[host].get(name)
    except (KeyError, AttributeError):
        return None
