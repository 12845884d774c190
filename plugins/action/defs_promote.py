# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_promote: read and verify the host, plan, carry the plan out."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_promote import DOCUMENTATION
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
        if options["version"] != "newest_good" and not versions.is_version(options["version"]):
            raise SmsmseError("OPTION_INVALID", f"`version` is '{options['version']}': use newest_good or YYYYMMDD.RRR.")
        if options["keep"] < 1:
            raise SmsmseError("OPTION_INVALID", "`keep` must be at least 1.")
        if options["source_path"] and options["source"]:
            raise SmsmseError("OPTION_INVALID", "Give `source` or `source_path`, not both.")
        stores, _verification = change.read_host(self, task_vars, {**options, "extra_stores": {"source": options["source_path"]}})
        common = change.common_request(options, probe.is_windows(self))
        source = "source" if options["source_path"] else options["source"]
        return plan.promote(
            stores, target=options["target"], source=source, version=options["version"], keep=options["keep"], common=common
        )
