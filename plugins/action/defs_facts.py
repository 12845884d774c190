# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_facts: options in, one probe, facts out."""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts, probe, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import HostOptions


class ActionModule(DocumentedAction[HostOptions]):
    DOCUMENTATION = defs_facts.DOCUMENTATION

    def act(self, options: HostOptions, task_vars: TaskVars) -> dict[str, Any]:
        """The facts; a damaged ``definfo.dat`` is reported in its store's ``definfo_error`` (and a warning), as defs_verify does."""
        reply = probe.run(self, task_vars, options)
        host = snapshot.parse(reply, options["stores"] or {})
        smsmse_defs = facts.build(host, strict=False, lines=facts.product_lines(options["product"]))
        damaged = [
            f"{name}: {store['definfo_error']['code']}: {store['definfo_error']['message']}"
            for name, store in smsmse_defs["stores"].items()
            if store["definfo_error"]
        ]
        return {"ansible_facts": {"smsmse_defs": smsmse_defs}, **({"warnings": damaged} if damaged else {})}
