# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_verify: trust the catalog, one hashing probe, verdicts out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog, facts, probe, snapshot, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_verify.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        trusted = catalog.from_options(options, record_state=not self._task.check_mode)
        reply = probe.run(self, task_vars, options, hashing=probe.hashing(options))
        host = snapshot.parse(reply, options["stores"] or {})
        verification = verify.judge(host, required_files=options["required_files"], catalog=trusted)
        smsmse_defs = facts.build(host, strict=False)
        return {**verification, "state": {"reply": reply}, "ansible_facts": {"smsmse_defs": {**smsmse_defs, "verification": verification}}}
