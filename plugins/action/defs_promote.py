# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_promote: read and verify the host, plan, carry the plan out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_promote
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import probe, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import PromoteOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction[PromoteOptions]):
    DOCUMENTATION = defs_promote.DOCUMENTATION

    def act(self, options: PromoteOptions, task_vars: TaskVars) -> dict[str, Any]:
        the_plan, stores = self._plan(task_vars, options)
        return change.carry_out(self, task_vars, the_plan, options["hash_cache_dir"], stores=stores)

    def _plan(self, task_vars: TaskVars, options: PromoteOptions) -> tuple[plan.Plan, dict[str, store_view.StoreView]]:
        if options["version"] != "newest_good" and not versions.is_version(options["version"]):
            raise SmsmseError("OPTION_INVALID", f"`version` is '{options['version']}': use newest_good or YYYYMMDD.RRR.")
        if options["source_path"] and options["source"]:
            raise SmsmseError("OPTION_INVALID", "Give `source` or `source_path`, not both.")
        with_source: PromoteOptions = {**options, "extra_stores": {"source": options["source_path"]}}
        stores, _verification, host = change.read_host(self, task_vars, with_source)
        ctx = change.context(options, probe.is_windows(self), host.detected)
        source = "source" if options["source_path"] else options["source"]
        the_plan = plan.promote(
            stores,
            target=options["target"],
            source=source,
            version=options["version"],
            keep=options["keep"],
            ctx=ctx,
            allow_downgrade=options["allow_downgrade"],
        )
        return the_plan, stores
