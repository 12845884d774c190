"""What the defs_health role prints at the end of a play, and which hosts it fails.

- :func:`problem_lines`: one line per host that is not compliant, worst first:
  status, the failing checks and the first remediation (or what was done);
- :func:`table`: the fleet table (host, status, versions, failing checks, actions);
- :func:`failures`: host -> the message it fails with, by ``defs_health_fail_on`` and the mode.

Every value from a host goes through :func:`safe_text.text`: a terminal escape
sequence in a host's reply is printed as text, never interpreted.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import Check, Host, Report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.safe_text import text
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify

#: defs_health_fail_on -> the statuses that fail a host at the end of the play, in any mode
FAIL_ON: dict[str, tuple[str, ...]] = {
    "failed": ("failed", "unreachable"),
    "drift": ("failed", "drift", "unreachable"),
    "never": (),
}
#: (defs_health_fail_on, mode) -> the statuses it fails besides FAIL_ON's: enforce that leaves a host drifting did not make it healthy
FAIL_ON_IN_MODE: dict[tuple[str, str], tuple[str, ...]] = {("failed", "enforce"): ("drift",)}
DRIFT_POLICY = "defs_health_fail_on is 'drift': every host that is not compliant or fixed fails the run."
#: defs_health_fail_on -> why an unreachable host fails the run
UNREACHABLE_POLICY: dict[str, str] = {
    "failed": "A host that cannot be reached is never counted healthy (defs_health_fail_on 'never' leaves it to the report).",
    "drift": DRIFT_POLICY,
}
ENFORCE_POLICY = (
    "Enforce could not, or was not allowed to, make it healthy; with defs_health_fail_on 'failed' (the default) such a host "
    "fails an enforce run ('never' leaves it to the report)."
)
COLUMNS = ("host", "status", "csapi", "proof", "age", "product", "failing checks", "actions")
MESSAGE_CHARS = 300


def _short(message: str) -> str:
    flat = " ".join(text(message).split())
    return flat if len(flat) <= MESSAGE_CHARS else flat[: MESSAGE_CHARS - 3] + "..."


def detail(host: Host, fail_severities: list[str]) -> str:
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


def problem_lines(document: Report) -> list[str]:
    """One line per host that is not compliant, worst first."""
    severities = report.fail_severities_of(document)
    hosts = [h for h in report.worst_first(document["hosts"]) if h["status"] != "compliant"]
    width = max((len(text(h["name"])) for h in hosts), default=0)
    return [f"{h['status']:<11} {text(h['name']).ljust(width)}  {detail(h, severities)}" for h in hosts]


def _row(host: Host, fail_severities: list[str]) -> list[str]:
    versions = host["versions"]
    failing = ",".join(c["id"] for c in report.failing(host, fail_severities)) or "-"
    actions = ",".join(f"{a['action']}:{a['result']}" for a in host["actions"]) or "-"
    age = "-" if versions["age_days"] is None else f"{versions['age_days']}d"
    csapi = report.csapi_label(host).replace(f" ({verify.GOOD_BY_SHORT[verify.STRUCTURE]})", "")  # the proof has its own column
    proof = versions.get("csapi_proof") or "-"
    cells = [host["name"], host["status"], csapi, proof, age, versions["product"] or "-", failing, actions]
    return [text(cell) for cell in cells]


def table(document: Report) -> list[str]:
    """The fleet table, worst first, and a last line with the counts."""
    severities = report.fail_severities_of(document)
    rows = [_row(h, severities) for h in report.worst_first(document["hosts"])]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    counts = document["summary"]["counts"]
    lines.append(f"{document['summary']['hosts']} hosts: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return lines


def failing_statuses(fail_on: str, mode: str) -> tuple[str, ...]:
    """The statuses that fail a host at the end of the play, for ``defs_health_fail_on`` in this mode."""
    return FAIL_ON[fail_on] + FAIL_ON_IN_MODE.get((fail_on, mode), ())


def _what_would_fix(bad: Sequence[Check]) -> str:
    """What would fix the host: a failing check's detail that names the role option allowing the fix, else the worst one's remediation."""
    allowing = next((str(c["detail"]) for c in bad if "defs_health_" in str(c.get("detail") or "")), None)
    return allowing or str(bad[0]["remediation"])


def failure_message(host: Host, fail_severities: list[str], fail_on: str = "drift") -> str:
    """The message a host fails the play with."""
    name = text(host["name"])
    if host["status"] == "failed":
        return text(host["message"]) or f"{name} could not be made healthy."
    if host["status"] == "unreachable":
        return f"{name} could not be reached: {_short(host['message'] or 'unreachable')}. {UNREACHABLE_POLICY.get(fail_on, DRIFT_POLICY)}"
    bad = report.failing(host, fail_severities)
    ids = ", ".join(c["id"] for c in bad) or "checks"
    fix = f" ({text(_what_would_fix(bad))})" if bad else ""
    if fail_on == "failed":
        return f"{name} still drifts after enforce: {ids} failing{fix}. {ENFORCE_POLICY}"
    return f"{name} drifts: {ids} failing{fix}. {DRIFT_POLICY}"


def failures(document: Report, fail_on: str) -> dict[str, str]:
    """Host name -> the message it fails with at the end of the play, for ``defs_health_fail_on`` and the run's mode."""
    severities = report.fail_severities_of(document)
    wanted = failing_statuses(fail_on, str(document["options"].get("mode", "report")))
    return {h["name"]: failure_message(h, severities, fail_on) for h in document["hosts"] if h["status"] in wanted}


def fails(record: Mapping[str, object], fail_on: str, fail_severities: Collection[str], mode: str = "report") -> bool:
    """Whether one host record, graded as the report grades it, fails the play (what :func:`failures` decides per host)."""
    severities = [s for s in report.SEVERITIES if s in fail_severities]
    return report.grade(report.as_record(record), severities)["status"] in failing_statuses(fail_on, mode)
