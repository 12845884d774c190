"""The fleet report's document: the constants of its schema, each host graded (failing checks, drift, why nothing
was done), the summary, and the self-check against ``schemas/report.json``. The public face is :mod:`report`."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import schema_refs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import (
    STATUSES,
    Check,
    Drift,
    Host,
    HostBase,
    KeptRun,
    Record,
    Report,
    StoreProblem,
    StoreProblems,
    Summary,
    as_status,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.safe_text import line
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify

SEVERITIES = tuple(health.SEVERITY_ORDER)
DEFAULT_FAIL_SEVERITIES = ("critical", "high", "medium")
DEFAULT_HISTORY_RUNS = 60
DRIFTING = ("drift", "failed")
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "schemas" / "report.json"
DATA_FOLDER = ("mailsec-smsmse", "defs-health")
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
HISTORY_MAX_BYTES = 64 * 1024 * 1024  # a run of 10000 hosts is about 30 MB
STORE_PROBLEMS_SHOWN = health.STORE_PROBLEMS_SHOWN
#: a host's record, or its row in the report
AnyHost = TypeVar("AnyHost", bound=HostBase)


def counted(check: Check, fail_severities: Collection[str]) -> bool:
    """Whether a failing check counts against its host (its severity is one that fails hosts)."""
    return check["status"] in ("fail", "error") and check["severity"] in fail_severities


def failing(host: HostBase, fail_severities: Collection[str]) -> list[Check]:
    """The host's failing checks that count, worst severity first."""
    found = [c for c in host["checks"] if counted(c, fail_severities)]
    return sorted(found, key=lambda c: health.SEVERITY_ORDER.get(c["severity"], 9))


def as_record(record: Mapping[str, object]) -> Record:
    """A host's record as the report reads it: one the role's host step made (or the ``records`` option gave). What is
    built from it is checked against ``schemas/report.json`` (:func:`validate`) before anything is written."""
    return cast(Record, record)


def grade(record: Record, fail_severities: Collection[str]) -> Record:
    """The record with its status judged by ``fail_severities`` (``failed`` and ``unreachable`` stay)."""
    status = record["status"]
    if status in ("compliant", "fixed", "drift"):
        changed = status == "fixed" or any(a.get("result") == "done" for a in record["actions"])
        status = as_status(health.status_of(record["checks"], changed=changed, failed=False, fail_severities=fail_severities))
    return {**record, "status": status}


def active_set_bad(host: HostBase) -> bool:
    """Whether the host's CSAPI active set failed ``csapi_active_good`` (a corrupt set is never counted as a normal one)."""
    return any(c["id"] == "csapi_active_good" and c["status"] in ("fail", "error") for c in host["checks"])


def csapi_label(host: HostBase) -> str:
    """The CSAPI active version as a person reads it: ``(bad)`` after a bad one, ``(good by structure alone)`` after one
    nothing but structure proved; ``-`` when there is none."""
    versions = host["versions"]
    active = versions.get("csapi_active")
    if not active:
        return "-"
    if active_set_bad(host):
        return f"{active} (bad)"
    if versions.get("csapi_proof") == verify.STRUCTURE:
        return f"{active} ({verify.GOOD_BY_SHORT[verify.STRUCTURE]})"
    return str(active)


def store_problems_of(host: Record | Host) -> StoreProblems:
    """The host's store problems: its count, and at most :data:`STORE_PROBLEMS_SHOWN` entries (none for a record without)."""
    given: object = host.get("store_problems")
    found: Mapping[str, object] = given if isinstance(given, Mapping) else health.NO_STORE_PROBLEMS
    entries = found.get("entries")
    shown: list[StoreProblem] = list(entries) if isinstance(entries, list) else []
    count = found.get("count")
    number = count if isinstance(count, int) and not isinstance(count, bool) else 0
    return {"count": max(number, len(shown)), "entries": shown[:STORE_PROBLEMS_SHOWN]}


def store_problem_line(entry: StoreProblem) -> str:
    """One store problem as one line of safe text (a line break in a name is shown as ``\\n``)."""
    where = f" {entry.get('path')}" if entry.get("path") else ""
    return line(f"{entry.get('store')} {entry.get('code')}{where}: {entry.get('message')}")


def summary(hosts: Sequence[Record | Host]) -> Summary:
    counts = Counter(h["status"] for h in hosts)
    total = len(hosts)
    return {
        "hosts": total,
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "percent": {s: round(100.0 * counts.get(s, 0) / total, 1) if total else 0.0 for s in STATUSES},
        "hosts_with_store_problems": sum(1 for h in hosts if store_problems_of(h)["count"]),
    }


def worst_first(hosts: Sequence[AnyHost]) -> list[AnyHost]:
    return sorted(hosts, key=lambda h: (health.STATUS_ORDER.get(h["status"], 9), h["name"]))


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return None


#: one earlier run: when it started, and each host's status then
Past = tuple[str, Mapping[str, object]]


def past_statuses(history: Sequence[KeptRun]) -> list[Past]:
    """Each earlier run's start and ``{host name: status}``, built once (not once per drifting host)."""
    return [
        (report["started"], {h["name"]: h.get("status") for h in report["hosts"] if isinstance(h, dict) and isinstance(h.get("name"), str)})
        for report in history
    ]


def drift_of(name: str, status: str, history: Sequence[Past], started: str, ended: str) -> Drift:
    """Since when the host's current run of drift or failure began, for how many runs, and how many days.

    ``history`` is :func:`past_statuses` of the earlier runs.
    """
    if status not in DRIFTING:
        return {"drifting_since": None, "drift_runs": None, "drift_days": None}
    since, runs = started, 1
    for run_started, statuses in reversed(history):
        if statuses.get(name) not in DRIFTING:
            break
        since, runs = run_started, runs + 1
    begin, end = parse_time(since), parse_time(ended)
    days = (end - begin).days if begin and end and end >= begin else None
    return {"drifting_since": since, "drift_runs": runs, "drift_days": days}


def why_no_action(host: HostBase, fail_severities: Collection[str]) -> str | None:
    """For a host with failing checks but no action: why nothing was done (None when not such a host)."""
    if host["actions"]:
        return None
    if host["status"] == "unreachable":
        return "The host could not be reached, so nothing was checked or changed."
    if host["status"] == "failed":
        return f"Nothing was changed: {host['message'] or 'the host could not be verified'}"
    bad = [c for c in host["checks"] if c["status"] in ("fail", "error")]
    if not bad:
        return None
    counting = failing(host, fail_severities)
    if not counting:
        severities = ", ".join(sorted({c["severity"] for c in bad}))
        return (
            f"Nothing to do: the failing checks are of severity {severities}, which defs_health_fail_severities does not count; "
            f"{bad[0]['remediation']}"
        )
    reason = f" ({host['message']})" if host["message"] else ""
    return (
        f"Nothing was changed: no promote, rollback or LiveUpdate fixes {', '.join(c['id'] for c in counting)}{reason}. "
        f"{counting[0]['remediation']}"
    )


def build(
    records: Sequence[Mapping[str, object]],
    *,
    run_id: str,
    started: str,
    ended: str,
    options: Mapping[str, object],
    history: Sequence[KeptRun],
    fail_severities: Collection[str] = DEFAULT_FAIL_SEVERITIES,
) -> Report:
    severities = [s for s in SEVERITIES if s in fail_severities]
    hosts: list[Host] = []
    past = past_statuses(history)
    for record in worst_first([grade(as_record(r), severities) for r in records]):
        drift = drift_of(record["name"], record["status"], past, started, ended)
        host: Host = {**record, **drift, "store_problems": store_problems_of(record), "why_no_action": None}
        host["why_no_action"] = why_no_action(host, severities)
        hosts.append(host)
    return {
        "schema": "mailsec.smsmse/defs-health-report",
        "version": 1,
        "run_id": run_id,
        "started": started,
        "ended": ended,
        "options": {**options, "fail_severities": severities},
        "summary": summary(hosts),
        "hosts": hosts,
        "history": [{"run_id": r.get("run_id"), "started": r["started"], "summary": r["summary"]} for r in history],
    }


def fail_severities_of(report: Report) -> list[str]:
    """The severities whose failing checks make a host drift, as the report's options say (:func:`build` sets them)."""
    found = report["options"].get("fail_severities", DEFAULT_FAIL_SEVERITIES)
    return [str(s) for s in found] if isinstance(found, (list, tuple)) else list(DEFAULT_FAIL_SEVERITIES)


def hosts_by_status(report: Report) -> dict[str, list[str]]:
    """Status -> the names of the hosts with it (sorted)."""
    return {s: sorted(h["name"] for h in report["hosts"] if h["status"] == s) for s in STATUSES}


def fixed_by(host: HostBase) -> str | None:
    """Where the good set that healed the host came from (liveupdate, or a distribution point), or None: the action the
    run marked ``fixed`` (a source whose set verified good afterwards), never one that only ran."""
    return next((str(a["source"]) for a in reversed(host["actions"]) if a.get("source") and a.get("fixed") is True), None)


def hosts_fixed_by(report: Report) -> dict[str, str]:
    """Host name -> the source that gave it a good set, for the hosts a source healed in this run."""
    found = {h["name"]: fixed_by(h) for h in report["hosts"]}
    return {name: source for name, source in sorted(found.items()) if source is not None}


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(schema_refs.inline(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")), {}))


def validate(report: Mapping[str, object]) -> list[str]:
    """The report's departures from ``schemas/report.json`` (a self-check of the collection's own output)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in _validator().iter_errors(report)]
