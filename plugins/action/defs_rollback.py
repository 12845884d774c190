# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_rollback: read and verify the host, plan, carry the plan out."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_rollback import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, change, plan, probe, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

ARGUMENT_SPEC = argspec.from_documentation(DOCUMENTATION)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result: dict[str, Any] = super().run(tmp, task_vars)
        options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        try:
            result.update(change.carry_out(self, task_vars or {}, self._plan(task_vars or {}, options)))
        except SmsmseError as exc:
            result.update(failed=True, msg=str(exc), error=exc.as_dict())
        return result

    def _plan(self, task_vars: dict[str, Any], options: dict[str, Any]) -> plan.Plan:
        if options["to"] != "previous_good" and not versions.is_version(options["to"]):
            raise SmsmseError("OPTION_INVALID", f"`to` is '{options['to']}': use previous_good or YYYYMMDD.RRR.")
        stores, _verification = change.read_host(self, task_vars, options)
        common = change.common_request(options, probe.is_windows(self))
        return plan.rollback(
            stores,
            store=options["store"],
            to=options["to"],
            quarantine=options["quarantine"],
            quarantine_dir=options["quarantine_dir"],
            common=common,
        )
