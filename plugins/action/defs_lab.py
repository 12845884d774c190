# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_lab: a lab of emulated servers, on the controller."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_lab import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, lab

ARGUMENT_SPEC = argspec.from_documentation(DOCUMENTATION)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        if options["hosts"] < 1:
            return {**result, "failed": True, "msg": "OPTION_INVALID: `hosts` must be at least 1."}
        root = Path(options["dir"])
        for part in ("hosts", "reference", "cache"):
            shutil.rmtree(root / part, ignore_errors=True)
        hosts = lab.fleet_hosts(options["hosts"])
        if options["mix"] == "healthy":
            hosts = [lab.LabHost(name=h.name, version=h.version, liveupdate="works") for h in hosts]
        inventory = lab.build_lab(root, hosts, group_vars=options["group_vars"])
        references = sorted(str(p) for p in (root / "reference").iterdir() if p.is_dir())
        return {
            **result,
            "changed": True,
            "inventory": str(inventory),
            "hosts": {h.name: h.faults for h in hosts},
            "reference_sets": references,
        }
