"""The report reads as words and units: dates, sizes in MB/GB, "1 day"; JUnit has a case for every step, LiveUpdate and the runbook."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_html, report_junit, words

TODAY = dt.date(2026, 11, 26)


def test_words_and_units() -> None:
    assert [words.days(n) for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert [words.size(n) for n in (0, 1, 512, 2048, 5 * 1024**2, 3 * 1024**3 // 2)] == [
        "0 bytes", "1 byte", "512 bytes", "2.0 KB", "5.0 MB", "1.5 GB",
    ]  # fmt: skip
    assert [words.value(v) for v in (None, True, False, [], ["csapi", "hawking"], 401, "6.5.8")] == [
        "none", "yes", "no", "none", "csapi, hawking", "401", "6.5.8",
    ]  # fmt: skip


def verification() -> dict[str, Any]:
    version = "20261125.003"
    record = {"store": "csapi", "version": version, "status": "good", "proof": "catalog", "errors": [], "digest": "d", "files": 3,
              "bytes": 5 * 1024**2}  # fmt: skip
    return {
        "sets": [record],
        "active": {"csapi": {"version": version, "status": "good", "proof": "catalog", "errors": []}},
        "newest_good": {"csapi": version, "overall": version},
        "hash_stats": {},
        "catalog": None,
    }


def test_the_checks_speak_in_days_and_sizes() -> None:
    smsmse_defs = {
        "verification": verification(),
        "product": {"self_verifies": True, "version": "6.5.8", "event_ids": None},
        "stores": {"csapi": {"free_bytes": 3 * 1024**3 // 2}},
        "events": [],
    }
    checks = {c["id"]: c for c in health.checks(smsmse_defs, max_age_days=7, today=TODAY)}
    assert (checks["defs_age"]["expected"], checks["defs_age"]["actual"]) == ("at most 7 days", "1 day")
    assert (checks["free_space"]["expected"], checks["free_space"]["actual"]) == ("more than 10.0 MB", "1.5 GB")


def failed_host() -> dict[str, Any]:
    lu = {"action": "liveupdate", "result": "failed", "version": None, "previous": None, "message": "LIVEUPDATE_FAILED: exit 1"}
    title, severity, remediation = health.CHECKS["pointers_consistent"]
    check = {"id": "pointers_consistent", "title": title, "severity": severity, "status": "fail", "expected": [],
             "actual": ["csapi", "hawking"], "remediation": remediation, "detail": ""}  # fmt: skip
    message = f"LIVEUPDATE_FAILED: exit 1 {health.RUNBOOK.format(event='the product event 401')}"
    return health.host_record("mail15", smsmse_defs=None, checks_=[check], actions=[lu], status="failed", message=message, today=TODAY)


def built(*records: dict[str, Any]) -> report.Report:
    document = report.build(list(records), run_id="r", started="2026-11-26T00:00:00Z", ended="2026-11-26T00:00:00Z", options={},
                            history=[])  # fmt: skip
    assert report.validate(document) == []
    return document


def test_html_and_junit_print_words_not_python_values() -> None:
    document = built(failed_host())
    page = report_html.render(document)
    assert "expected none, actual csapi, hawking" in page
    assert "['csapi'" not in page and "expected []" not in page and "None" not in page.split("<body>", 1)[1].split("<script", 1)[0]
    xml = report_junit.render(document)
    assert "['csapi'" not in xml and "expected none, actual csapi, hawking" in xml


def test_junit_has_a_case_for_every_failed_step_liveupdate_and_the_runbook() -> None:
    suite = ET.fromstring(report_junit.render(built(failed_host())).split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    liveupdate = cases["step liveupdate: LiveUpdate"]
    failure = liveupdate.find("failure")
    assert failure is not None and failure.get("message") == "LIVEUPDATE_FAILED: exit 1"
    runbook = cases["runbook: what to do now"].find("failure")
    assert runbook is not None and "Runbook: 1) on the server, run LiveUpdate" in (runbook.get("message") or "")
    assert suite.get("failures") == str(sum(1 for c in suite.findall("testcase") if c.find("failure") is not None))
    assert suite.get("tests") == str(len(suite.findall("testcase")))
