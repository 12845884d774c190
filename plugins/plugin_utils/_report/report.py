"""The fleet report of a defs_health run: the JSON document (the main format), its history, and writing it.

The HTML page (:mod:`report_html`), the JUnit file (:mod:`report_junit`) and
the console lines (:mod:`report_console`) are rendered from the document built
here. Earlier runs are kept under ``history/`` (how many is an option), so
that the report can say since when, and for how many runs, a host has drifted.

This module is the report's public face; the parts are :mod:`report_build` (the document), :mod:`report_history`
(the kept runs) and :mod:`report_files` (writing).
"""

from __future__ import annotations

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_build import (
    DATA_FOLDER,
    DEFAULT_FAIL_SEVERITIES,
    DEFAULT_HISTORY_RUNS,
    DRIFTING,
    HISTORY_MAX_BYTES,
    SCHEMA_PATH,
    SEVERITIES,
    STATUSES,
    STORE_PROBLEMS_SHOWN,
    TIME_FORMAT,
    Past,
    active_set_bad,
    build,
    counted,
    csapi_label,
    drift_of,
    failing,
    fixed_by,
    grade,
    hosts_by_status,
    hosts_fixed_by,
    parse_time,
    past_statuses,
    store_problem_line,
    store_problems_of,
    summary,
    validate,
    why_no_action,
    worst_first,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_files import default_dir, renderers, resolve_dir, write
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_history import (
    History,
    kept_run,
    kept_run_schema,
    load_history,
    read_history,
)

__all__ = [
    "DATA_FOLDER",
    "DEFAULT_FAIL_SEVERITIES",
    "DEFAULT_HISTORY_RUNS",
    "DRIFTING",
    "HISTORY_MAX_BYTES",
    "SCHEMA_PATH",
    "SEVERITIES",
    "STATUSES",
    "STORE_PROBLEMS_SHOWN",
    "TIME_FORMAT",
    "History",
    "Past",
    "active_set_bad",
    "build",
    "counted",
    "csapi_label",
    "default_dir",
    "drift_of",
    "failing",
    "fixed_by",
    "grade",
    "hosts_by_status",
    "hosts_fixed_by",
    "kept_run",
    "kept_run_schema",
    "load_history",
    "parse_time",
    "past_statuses",
    "read_history",
    "renderers",
    "resolve_dir",
    "store_problem_line",
    "store_problems_of",
    "summary",
    "validate",
    "why_no_action",
    "worst_first",
    "write",
]
