"""The JUnit XML form of a defs_health report: one test suite per host, one test case per check.

Built with :mod:`xml.etree.ElementTree`, every value passed through
:func:`safe_text.text`, so the file is well-formed whatever a host returns.
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
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import report
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.safe_text import text

COUNTERS = ("tests", "failures", "errors", "skipped")


def _element(tag: str, **attributes: Any) -> ET.Element:
    return ET.Element(tag, {key: text(value) for key, value in attributes.items()})


def _properties(parent: ET.Element, values: Mapping[str, Any]) -> None:
    holder = ET.SubElement(parent, "properties")
    for name, value in values.items():
        holder.append(_element("property", name=name, value="" if value is None else value))


def _unreachable(host: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": "reachable",
        "title": "The host answers",
        "severity": "critical",
        "status": "error",
        "actual": host.get("message", ""),
        "expected": "",
        "remediation": "",
    }


def _case(host: Mapping[str, Any], check: Mapping[str, Any], fail_severities: list[str], counts: Counter[str]) -> ET.Element:
    case = _element("testcase", classname=host["name"], name=f"{check['id']}: {check['title']}")
    _properties(case, {"severity": check["severity"], "status": check["status"]})
    message = f"expected {text(check['expected'])}, actual {text(check['actual'])}. {check.get('remediation', '')}"
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


def render(document: Mapping[str, Any]) -> str:
    fail_severities = list(document["options"].get("fail_severities", report.DEFAULT_FAIL_SEVERITIES))
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
                **({"fixed_by": source} if (source := report.fixed_by(host)) else {}),
            },
        )
        for check in host["checks"] or [_unreachable(host)]:
            suite.append(_case(host, check, fail_severities, counts))
        if problems["entries"]:
            ET.SubElement(suite, "system-out").text = "".join(report.store_problem_line(e) + "\n" for e in problems["entries"])
        for counter in COUNTERS:
            suite.set(counter, str(counts[counter]))
        totals.update(counts)
        root.append(suite)
    for counter in COUNTERS:
        root.set(counter, str(totals[counter]))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
