# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_rollback: read and verify the host, plan, carry the plan out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_rollback
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import probe, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import RollbackOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction[RollbackOptions]):
    DOCUMENTATION = defs_rollback.DOCUMENTATION

    def act(self, options: RollbackOptions, task_vars: TaskVars) -> dict[str, Any]:
        the_plan, stores = self._plan(task_vars, options)
        return change.carry_out(self, task_vars, the_plan, options["hash_cache_dir"], stores=stores)

    def _plan(self, task_vars: TaskVars, options: RollbackOptions) -> tuple[plan.Plan, dict[str, store_view.StoreView]]:
        if options["to"] != "previous_good" and not versions.is_version(options["to"]):
            raise SmsmseError("OPTION_INVALID", f"`to` is '{options['to']}': use previous_good or YYYYMMDD.RRR.")
        stores, _verification, host = change.read_host(self, task_vars, options)
        ctx = change.context(options, probe.is_windows(self), host.detected)
        the_plan = plan.rollback(
            stores,
            store=options["store"],
            to=options["to"],
            quarantine=options["quarantine"],
            quarantine_dir=options["quarantine_dir"],
            ctx=ctx,
        )
        return the_plan, stores
