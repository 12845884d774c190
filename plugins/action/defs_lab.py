# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_lab: a lab of emulated servers, on the controller."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction, TaskVars
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import LabOptions


class ActionModule(DocumentedAction[LabOptions]):
    DOCUMENTATION = defs_lab.DOCUMENTATION
    CHECK_MODE = False

    def act(self, options: LabOptions, task_vars: TaskVars) -> dict[str, Any]:
        root = Path(options["dir"])
        for part in ("hosts", "reference", "cache"):
            shutil.rmtree(root / part, ignore_errors=True)
        windows_every, warnings = options["windows_every"], []
        missing = lab.mono_missing() if windows_every else None
        if missing:
            warnings.append(f"Every lab host is served by the POSIX agent: {missing}.")
            windows_every = 0
        hosts = lab.fleet_hosts(options["hosts"], windows_every)
        if options["mix"] == "healthy":
            hosts = [lab.LabHost(name=h.name, version=h.version, liveupdate="works", agent=h.agent) for h in hosts]
        inventory = lab.build_lab(root, hosts, group_vars=options["group_vars"])
        references = sorted(str(p) for p in (root / "reference").iterdir() if p.is_dir())
        result = {
            "changed": True,
            "inventory": str(inventory),
            "hosts": {h.name: h.faults for h in hosts},
            "agents": {h.name: h.agent for h in hosts},
            "reference_sets": references,
        }
        return {**result, "warnings": warnings} if warnings else result
