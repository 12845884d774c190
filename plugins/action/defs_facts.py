# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_facts: options in, one probe, facts out."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_facts import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, facts, probe
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
            reply = probe.run(self, task_vars or {}, options)
            result["ansible_facts"] = {"smsmse_defs": facts.build(reply, overrides=options["stores"] or {})}
        except SmsmseError as exc:
            result.update(failed=True, msg=str(exc), error=exc.as_dict())
        return result
