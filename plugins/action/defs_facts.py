# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_facts: options in, one probe, facts out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import facts, probe, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_facts.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        reply = probe.run(self, task_vars, options)
        host = snapshot.parse(reply, options["stores"] or {})
        return {"ansible_facts": {"smsmse_defs": facts.build(host, lines=facts.product_lines(options["product"]))}}
