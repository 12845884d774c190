"""The JUnit XML form of a defs_health report: one test suite per host, one test case per check.

Built with :mod:`xml.etree.ElementTree`, every value passed through
:func:`safe_text.text`, so the file is well-formed whatever a host returns.
Each step the run took or planned (LiveUpdate, promote, roll back, repair) is a case too (failed, passed, or
skipped as planned in report mode), and a failed host whose message carries the runbook has a ``runbook`` case.
Each failing check carries its severity (``type`` of the failure, and a
``severity`` property); a failing check whose severity does not fail hosts
(``fail_severities`` in the report's options) is ``skipped`` with the reason,
so CI turns red exactly when the role calls the host drifting. A host's store
problems (entries the agent escaped, left out or could not read) are its suite's
``store_problems`` property (the count) and one line each in its ``system-out``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, words
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import Action, Check, Host, Report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.safe_text import text

COUNTERS = ("tests", "failures", "errors", "skipped")


def _element(tag: str, **attributes: object) -> ET.Element:
    return ET.Element(tag, {key: text(value) for key, value in attributes.items()})


def _properties(parent: ET.Element, values: Mapping[str, object]) -> None:
    holder = ET.SubElement(parent, "properties")
    for name, value in values.items():
        holder.append(_element("property", name=name, value="" if value is None else value))


def _unreachable(host: Host) -> Check:
    """The one case of a host that could not be reached (it has no checks)."""
    return {
        "id": "reachable",
        "title": "The host answers",
        "severity": "critical",
        "status": "error",
        "actual": host.get("message", ""),
        "expected": "",
        "remediation": "",
        "detail": "",
    }


def _proof(host: Host, check: Check) -> dict[str, object]:
    """What proved the active set, on the case that calls it good or bad (structure alone says so)."""
    proof = host.get("versions", {}).get("csapi_proof")
    return {"proof": proof} if check["id"] == "csapi_active_good" and proof else {}


def _case(host: Host, check: Check, fail_severities: list[str], counts: Counter[str]) -> ET.Element:
    case = _element("testcase", classname=host["name"], name=f"{check['id']}: {check['title']}")
    _properties(case, {"severity": check["severity"], "status": check["status"], **_proof(host, check)})
    message = (
        f"expected {text(words.value(check['expected']))}, actual {text(words.value(check['actual']))}. {check.get('remediation', '')}"
    )
    counts["tests"] += 1
    if check["status"] in ("fail", "error") and check["severity"] not in fail_severities:
        counts["skipped"] += 1
        why = f"fails with severity {check['severity']}, which does not fail hosts (fail_severities: {', '.join(fail_severities)}): "
        case.append(_element("skipped", message=why + message))
    elif check["status"] in ("fail", "error"):
        tag = "failure" if check["status"] == "fail" else "error"
        counts["failures" if tag == "failure" else "errors"] += 1
        element = _element(tag, message=message, type=check["severity"])
        element.text = text(message)
        case.append(element)
    elif check["status"] == "skipped":
        counts["skipped"] += 1
        case.append(_element("skipped", message=check.get("detail", "")))
    return case


#: an action's kind -> the words its test case is named with
STEP_NAMES: dict[str, str] = {
    "liveupdate": "LiveUpdate",
    "promote": "promote a good set into CSAPI",
    "rollback": "roll CSAPI back to a good set",
    "repair_source": "quarantine a source store's bad newest set",
}
#: an action's result -> how its case ends: a failure, skipped (with why), or passed (None)
STEP_RESULTS: dict[str, str | None] = {"failed": "failure", "planned": "skipped", "done": None}
RUNBOOK_MARK = "Runbook:"


def _step(host: Host, action: Action, counts: Counter[str]) -> ET.Element:
    """One test case per step the run took (or planned) on the host: LiveUpdate, promote, roll back, repair."""
    kind = str(action.get("action"))
    case = _element("testcase", classname=host["name"], name=f"step {kind}: {STEP_NAMES.get(kind, kind)}")
    _properties(case, {"result": action.get("result"), "version": action.get("version"), "previous": action.get("previous")})
    counts["tests"] += 1
    ending = STEP_RESULTS.get(str(action.get("result")), "failure")
    message = str(action.get("message") or action.get("result") or "")
    if ending == "failure":
        counts["failures"] += 1
        element = _element("failure", message=message, type="step")
        element.text = text(message)
        case.append(element)
    elif ending == "skipped":
        counts["skipped"] += 1
        case.append(_element("skipped", message=f"planned (report mode): {message}"))
    return case


def _runbook(host: Host, counts: Counter[str]) -> ET.Element | None:
    """A failed host whose message carries the runbook gets a case of its own: what to do now."""
    message = str(host.get("message") or "")
    if host["status"] != "failed" or RUNBOOK_MARK not in message:
        return None
    case = _element("testcase", classname=host["name"], name="runbook: what to do now")
    counts["tests"] += 1
    counts["failures"] += 1
    element = _element("failure", message=message, type=health.CHECKS["csapi_active_good"][1])
    element.text = text(message)
    case.append(element)
    return case


def render(document: Report) -> str:
    fail_severities = report.fail_severities_of(document)
    timestamp = document["started"].rstrip("Z")  # JUnit's timestamp has no zone; the run's times are UTC
    root = _element("testsuites", name="defs_health", timestamp=timestamp)
    totals: Counter[str] = Counter()
    for host in document["hosts"]:
        counts: Counter[str] = Counter()
        problems = report.store_problems_of(host)
        suite = _element("testsuite", name=host["name"], hostname=host["name"], timestamp=timestamp)
        _properties(
            suite,
            {
                "status": host["status"],
                "run_id": document["run_id"],
                "started": document["started"],
                "drifting_since": host.get("drifting_since"),
                "store_problems": problems["count"],
                "csapi_active": host.get("versions", {}).get("csapi_active"),
                "csapi_proof": host.get("versions", {}).get("csapi_proof"),
                **({"fixed_by": source} if (source := report.fixed_by(host)) else {}),
            },
        )
        for check in host["checks"] or [_unreachable(host)]:
            suite.append(_case(host, check, fail_severities, counts))
        for action in host["actions"]:
            suite.append(_step(host, action, counts))
        runbook = _runbook(host, counts)
        if runbook is not None:
            suite.append(runbook)
        if problems["entries"]:
            ET.SubElement(suite, "system-out").text = "".join(report.store_problem_line(e) + "\n" for e in problems["entries"])
        for counter in COUNTERS:
            suite.set(counter, str(counts[counter]))
        totals.update(counts)
        root.append(suite)
    for counter in COUNTERS:
        root.set(counter, str(totals[counter]))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
