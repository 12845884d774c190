# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_report: the fleet report, written on the controller."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.mailsec.smsmse.plugins.modules.defs_report import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, report

ARGUMENT_SPEC = argspec.from_documentation(DOCUMENTATION)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result: dict[str, Any] = super().run(tmp, task_vars)
        options = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        if not re.fullmatch(r"[0-9A-Za-z._-]+", options["run_id"]):
            return {
                **result,
                "failed": True,
                "msg": f"OPTION_INVALID: `run_id` '{options['run_id']}' may hold only letters, digits, '.', '_' and '-'.",
            }
        report_dir = Path(options["report_dir"])
        ended = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        built = report.build(
            options["records"],
            run_id=options["run_id"],
            started=options["started"],
            ended=ended,
            options=options["options"],
            history=report.load_history(report_dir),
        )
        problems = report.validate(built)
        if problems:
            return {**result, "failed": True, "msg": "the report breaks its schema (a bug): " + "; ".join(problems[:3])}
        result["summary"] = built["summary"]
        if self._task.check_mode:
            return result
        try:
            result["files"] = report.write(built, report_dir, options["formats"])
        except OSError as exc:
            return {**result, "failed": True, "msg": f"CHANGE_FAILED: cannot write the report into {report_dir}: {exc}"}
        result["changed"] = True
        return result
