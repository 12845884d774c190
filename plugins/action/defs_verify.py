# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_verify: trust the catalog, one hashing probe, verdicts out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_verify import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, catalog, facts, probe, verify
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
            trusted = None
            if options["catalog"]:
                trusted = catalog.load_configured(
                    options["catalog"],
                    trusted_keys=options["trusted_keys"],
                    threshold=options["signature_threshold"],
                    state_path=options["catalog_state"],
                    now=dt.datetime.now(dt.timezone.utc),
                    record_state=not self._task.check_mode,
                )
            reply = probe.run(self, task_vars or {}, options, hashing={"deep": options["deep"], "cache_dir": options["hash_cache_dir"]})
            overrides = options["stores"] or {}
            verification = verify.verify_host(reply, overrides=overrides, required_files=options["required_files"], catalog=trusted)
            smsmse_defs = facts.build(reply, overrides=overrides, strict=False)
            result.update(verification)
            result["state"] = {"reply": reply}
            result["ansible_facts"] = {"smsmse_defs": {**smsmse_defs, "verification": verification}}
        except SmsmseError as exc:
            result.update(failed=True, msg=str(exc), error=exc.as_dict())
        return result
