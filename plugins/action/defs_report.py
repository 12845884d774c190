# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_report: the fleet report, written on the controller."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


class ActionModule(DocumentedAction):
    DOCUMENTATION = defs_report.DOCUMENTATION

    def act(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        if not re.fullmatch(r"[0-9A-Za-z._-]+", options["run_id"]):
            raise SmsmseError("OPTION_INVALID", f"`run_id` '{options['run_id']}' may hold only letters, digits, '.', '_' and '-'.")
        report_dir = Path(options["report_dir"])
        ended = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        history = report.load_history(report_dir)
        built = report.build(
            options["records"],
            run_id=options["run_id"],
            started=options["started"],
            ended=ended,
            options=options["options"],
            history=history,
        )
        problems = report.validate(built)
        if problems:
            return {"failed": True, "msg": "the report breaks its schema (a bug): " + "; ".join(problems[:3])}
        if self._task.check_mode:
            return {"summary": built["summary"]}
        try:
            files = report.write(built, report_dir, options["formats"])
        except OSError as exc:
            raise SmsmseError("CHANGE_FAILED", f"Cannot write the report into {report_dir}: {exc}.", path=str(report_dir)) from None
        return {"changed": True, "summary": built["summary"], "files": files}
