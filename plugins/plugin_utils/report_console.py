"""What the defs_health role prints at the end of a play, and which hosts it fails.

- :func:`problem_lines`: one line per host that is not compliant, worst first:
  status, the failing checks and the first remediation (or what was done);
- :func:`table`: the fleet table (host, status, versions, failing checks, actions);
- :func:`failures`: host -> the message it fails with, by ``defs_health_fail_on``.

Every value from a host goes through :func:`safe_text.text`: a terminal escape
sequence in a host's reply is printed as text, never interpreted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.safe_text import text

#: defs_health_fail_on -> the statuses that fail a host at the end of the play
FAIL_ON: dict[str, tuple[str, ...]] = {
    "failed": ("failed",),
    "drift": ("failed", "drift", "unreachable"),
    "never": (),
}
DRIFT_POLICY = "defs_health_fail_on is 'drift': every host that is not compliant or fixed fails the run."
COLUMNS = ("host", "status", "csapi", "age", "product", "failing checks", "actions")
MESSAGE_CHARS = 300


def _fail_severities(document: Mapping[str, Any]) -> list[str]:
    return list(document["options"].get("fail_severities", report.DEFAULT_FAIL_SEVERITIES))


def _short(message: str) -> str:
    flat = " ".join(text(message).split())
    return flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 3] + "..."


def detail(host: Mapping[str, Any], fail_severities: list[str]) -> str:
    """What is wrong with the host (or what was done to it), in one line."""
    bad = report.failing(host, fail_severities)
    ids = ", ".join(c["id"] for c in bad)
    if host["status"] == "unreachable":
        return _short(host["message"] or "unreachable")
    if host["status"] == "failed":
        return _short((f"failing {ids}; " if ids else "") + (host["message"] or "could not be made healthy"))
    if host["status"] == "fixed":
        done = ", ".join(
            f"{a['action']} {a.get('version') or ''}".rstrip() + f" {a['result']}" + (f" from {a['source']}" if a.get("source") else "")
            for a in host["actions"]
            if a["result"] == "done" or not a.get("source")  # a source that failed before the one that fixed the host: in the JSON
        )
        fixed = ", ".join(c["id"] for c in host["checks"] if c["status"] == "fixed")
        return _short(f"{done}" + (f"; fixed {fixed}" if fixed else ""))
    return _short(f"failing {ids}; {bad[0]['remediation']}" if bad else host["message"])


def problem_lines(document: Mapping[str, Any]) -> list[str]:
    """One line per host that is not compliant, worst first."""
    severities = _fail_severities(document)
    hosts = [h for h in report.worst_first(document["hosts"]) if h["status"] != "compliant"]
    width = max((len(text(h["name"])) for h in hosts), default=0)
    return [f"{h['status']:<11} {text(h['name']).ljust(width)}  {detail(h, severities)}" for h in hosts]


def _row(host: Mapping[str, Any], fail_severities: list[str]) -> list[str]:
    versions = host["versions"]
    failing = ",".join(c["id"] for c in report.failing(host, fail_severities)) or "-"
    actions = ",".join(f"{a['action']}:{a['result']}" for a in host["actions"]) or "-"
    age = "-" if versions["age_days"] is None else f"{versions['age_days']}d"
    cells = [host["name"], host["status"], versions["csapi_active"] or "-", age, versions["product"] or "-", failing, actions]
    return [text(cell) for cell in cells]


def table(document: Mapping[str, Any]) -> list[str]:
    """The fleet table, worst first, and a last line with the counts."""
    severities = _fail_severities(document)
    rows = [_row(h, severities) for h in report.worst_first(document["hosts"])]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    counts = document["summary"]["counts"]
    lines.append(f"{document['summary']['hosts']} hosts: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return lines


def failure_message(host: Mapping[str, Any], fail_severities: list[str]) -> str:
    """The message a host fails the play with."""
    name = text(host["name"])
    if host["status"] == "failed":
        return text(host["message"]) or f"{name} could not be made healthy."
    if host["status"] == "unreachable":
        return f"{name} could not be reached: {_short(host['message'] or 'unreachable')}. {DRIFT_POLICY}"
    bad = report.failing(host, fail_severities)
    ids = ", ".join(c["id"] for c in bad) or "checks"
    fix = f" ({bad[0]['remediation']})" if bad else ""
    return f"{name} drifts: {ids} failing{fix}. {DRIFT_POLICY}"


def failures(document: Mapping[str, Any], fail_on: str) -> dict[str, str]:
    """Host name -> the message it fails with at the end of the play, for ``defs_health_fail_on``."""
    severities = _fail_severities(document)
    wanted = FAIL_ON[fail_on]
    return {h["name"]: failure_message(h, severities) for h in document["hosts"] if h["status"] in wanted}


def fails(record: Mapping[str, Any], fail_on: str, fail_severities: Collection[str]) -> bool:
    """Whether one host record, graded as the report grades it, fails the play (what :func:`failures` decides per host)."""
    severities = [s for s in report.SEVERITIES if s in fail_severities]
    return report.grade(record, severities)["status"] in FAIL_ON[fail_on]
