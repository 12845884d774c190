"""The fleet report's history: what a run keeps of itself (:func:`kept_run`), and the earlier runs read back, each
through its schema, as untrusted input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import schema_refs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.files import parse_json, read_regular
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_build import (
    DEFAULT_HISTORY_RUNS,
    HISTORY_MAX_BYTES,
    SCHEMA_PATH,
    parse_time,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import STATUSES, KeptRun, Report


@dataclass(frozen=True)
class History:
    """The earlier runs a report may use (oldest first), and a warning for each kept file it could not."""

    runs: list[KeptRun]
    warnings: list[str]


def kept_run_schema() -> dict[str, Any]:
    """The schema of a kept run (:func:`kept_run`), made from ``schemas/report.json`` so that both say one thing."""
    full = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    props = full["properties"]
    return {
        "$defs": full["$defs"],
        "type": "object",
        "required": ["schema", "version", "run_id", "started", "ended", "summary", "hosts"],
        "properties": {
            "schema": props["schema"],
            "version": props["version"],
            "run_id": {"type": "string"},
            "started": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"},
            "ended": {"type": "string"},
            "summary": props["summary"],
            "hosts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "status"],
                    "properties": {"name": {"type": "string"}, "status": {"enum": list(STATUSES)}},
                },
            },
        },
    }


@lru_cache(maxsize=1)
def _kept_validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema_refs.inline(kept_run_schema(), {}))


def _kept(document: object) -> KeptRun | str:
    """The kept run, checked against its schema (:func:`kept_run_schema`) and its start read as a time; else why it
    cannot be used (the first departure from its schema, or a start that is no time)."""
    error = next(iter(_kept_validator().iter_errors(document)), None)
    if error is not None:
        return f"{'/'.join(str(p) for p in error.absolute_path) or 'the document'}: {error.message[:200]}"
    if not isinstance(document, dict):  # the schema asks for an object: a validator that let anything else by
        return "the document is not an object"
    run = cast(KeptRun, document)  # the schema above says so
    if parse_time(run["started"]) is None:
        return f"started: {run['started']!r} is not a time"
    return run


def read_history(report_dir: Path, runs: int = DEFAULT_HISTORY_RUNS, *, before: str | None = None) -> History:
    """The last ``runs`` earlier reports, oldest first, each read through its schema (:func:`kept_run_schema`).

    History files are untrusted input: a file that cannot be read or breaks the schema is skipped with a
    warning naming it, and a run dated after ``before`` (the current run's start: a clock that was wrong, or a
    planted file) is ignored, with a warning, so it can neither break the report nor reset a host's drift.
    """
    found: list[KeptRun] = []
    warnings: list[str] = []
    limit = parse_time(before) if before else None
    for path in sorted((report_dir / "history").glob("defs-health-*.json")):
        try:
            document = parse_json(read_regular(str(path), HISTORY_MAX_BYTES))
        except (OSError, ValueError) as exc:
            warnings.append(f"the kept run {path} was skipped: it cannot be read ({exc})"[:500])
            continue
        run = _kept(document)
        if isinstance(run, str):
            warnings.append(f"the kept run {path} was skipped: {run}")
            continue
        when = parse_time(run["started"])
        if limit is not None and when is not None and when > limit:
            warnings.append(f"the kept run {path} was ignored: it started at {run['started']}, after this run ({before})")
            continue
        found.append(run)
    found.sort(key=lambda r: r["started"])
    return History(found[-runs:] if runs > 0 else [], warnings)


def load_history(report_dir: Path, runs: int = DEFAULT_HISTORY_RUNS) -> list[KeptRun]:
    """The last ``runs`` earlier reports, oldest first (:func:`read_history`, without its warnings)."""
    return read_history(report_dir, runs).runs


def kept_run(report: Report) -> KeptRun:
    """What the history keeps of a run: its times, summary, and each host's name and status (all that drift needs).

    A whole report of 1,000 hosts is about 3 MB; sixty of them would be read on every run.
    """
    return {
        "schema": report["schema"],
        "version": report["version"],
        "run_id": report["run_id"],
        "started": report["started"],
        "ended": report["ended"],
        "summary": report["summary"],
        "hosts": [{"name": h["name"], "status": h["status"]} for h in report["hosts"]],
    }
