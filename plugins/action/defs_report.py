# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailsec.smsmse.defs_report: the fleet report, written on the controller."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.modules import defs_report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_console
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.action_base import DocumentedAction
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import ReportOptions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def check_options(options: ReportOptions) -> None:
    if not re.fullmatch(r"[0-9A-Za-z._-]+", options["run_id"], re.ASCII):
        raise SmsmseError("OPTION_INVALID", f"`run_id` {options['run_id']!r} may hold only letters, digits, '.', '_' and '-'.")
    if options["history_runs"] < 0:
        raise SmsmseError("OPTION_INVALID", f"`history_runs` is {options['history_runs']}; use 0 (keep no history) or more.")
    if options["records"] is None and options["hosts"] is None:
        raise SmsmseError("OPTION_INVALID", "Give `records`, `hosts` (the hosts whose registered `result_var` holds the record), or both.")
    if not options["fail_severities"]:
        raise SmsmseError(
            "OPTION_INVALID",
            "`fail_severities` is empty, so no check could make a host drift; to never fail the play, set `fail_on: never`.",
        )


class ActionModule(DocumentedAction[ReportOptions]):
    DOCUMENTATION = defs_report.DOCUMENTATION

    def act(self, options: ReportOptions, task_vars: Mapping[str, object]) -> dict[str, Any]:
        check_options(options)
        report_dir = report.resolve_dir(options["report_dir"])
        ended = dt.datetime.now(dt.timezone.utc).strftime(report.TIME_FORMAT)
        records: list[Mapping[str, object]] = list(options["records"] or [])
        if options["hosts"] is not None:
            today = dt.datetime.now(dt.timezone.utc).date()
            hostvars = task_vars.get("hostvars", {})
            records += [
                health_run.record_of_result(host, _registered(hostvars, host, options["result_var"]), today) for host in options["hosts"]
            ]
        history = report.read_history(report_dir, options["history_runs"] - 1, before=options["started"])
        built = report.build(
            records,
            run_id=options["run_id"],
            started=options["started"],
            ended=ended,
            options=options["options"],
            history=history.runs,
            fail_severities=options["fail_severities"],
        )
        problems = report.validate(built)
        if problems:
            return {"failed": True, "msg": "the report breaks its schema (a bug): " + "; ".join(problems[:3])}
        result: dict[str, Any] = {
            "changed": False,
            "run_id": built["run_id"],
            "report_dir": str(report_dir),
            "summary": built["summary"],
            "hosts": report.hosts_by_status(built),
            "fixed_by": report.hosts_fixed_by(built),
            "lines": report_console.problem_lines(built),
            "table": report_console.table(built),
            "fail": report_console.failures(built, options["fail_on"]),
            "files": {},
        }
        if history.warnings:
            result["warnings"] = history.warnings[:20]
        if self._task.check_mode:
            return result
        try:
            files = report.write(built, report_dir, options["formats"], history_runs=options["history_runs"])
        except OSError as exc:
            raise SmsmseError("CHANGE_FAILED", f"Cannot write the report into {report_dir}: {exc}.", path=str(report_dir)) from None
        return {**result, "changed": True, "files": files}


def _registered(hostvars: object, host: str, name: str) -> object:
    """The host's registered ``name`` from ``hostvars``; None for a host or variable it does not hold."""
    if not isinstance(hostvars, Mapping):
        return None
    try:
        found = hostvars[host]
    except KeyError:
        return None
    return found.get(name) if isinstance(found, Mapping) else None
