"""The fleet report: JSON, JUnit and HTML that stay well-formed whatever hosts return; grading, history, console, failing."""

from __future__ import annotations

import datetime as dt
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, cast, get_args
from unittest.mock import MagicMock

import pytest

from ansible_collections.mailsec.smsmse.plugins.action import defs_report as action
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_console, report_html, report_junit, report_types

TODAY = dt.date(2026, 11, 26)
STARTED, ENDED = "2026-11-26T02:00:00Z", "2026-11-26T02:05:00Z"
HOSTILE = [
    "\x01",
    "\x1b[31mred\x1b[0m",
    "a\ud800b",
    "\ufffe",
    "\x00",
    "\x7f\x85",
    "]]><!--",
    "<img src=x onerror=alert(1)>",
    "&amp; \"'",
]


def check(check_id: str, status: str = "pass", actual: Any = "ok") -> dict[str, Any]:
    title, severity, remediation = health.CHECKS[check_id]
    return {
        "id": check_id,
        "title": title,
        "severity": severity,
        "status": status,
        "expected": "ok",
        "actual": actual,
        "remediation": remediation,
        "detail": "",
    }


def record(name: str, status: str, checks: list[dict[str, Any]] | None = None, **kwargs: Any) -> report.Record:
    made = health.host_record(
        name,
        smsmse_defs=None,
        checks_=checks if checks is not None else [check("csapi_newest")],
        actions=kwargs.pop("actions", []),
        status=status,
        today=TODAY,
        **kwargs,
    )
    made["versions"].update(csapi_active="20261125.001", age_days=1, product="6.5.8")
    return report.as_record(made)


def build(records: list[report.Record], history: list[report.KeptRun] | None = None, **kwargs: Any) -> report.Report:
    built = report.build(records, run_id="r1", started=STARTED, ended=ENDED, options={"mode": "report"}, history=history or [], **kwargs)
    assert report.validate(built) == []
    return built


# --- hostile values ---


@pytest.mark.parametrize("value", HOSTILE)
def test_junit_is_well_formed_whatever_a_host_returns(value: str) -> None:
    hostile = record(f"mail{value}01", "drift", [check("csapi_newest", "fail", actual=value)], message=value)
    hostile["versions"]["csapi_active"] = value
    unreachable = record(f"gone{value}", "unreachable", [], message=value)
    xml = report_junit.render(build([hostile, unreachable]))
    root = ET.fromstring(xml.encode("utf-8"))  # raises on malformed XML
    names = {suite.get("name") for suite in root.iter("testsuite")}
    assert all(name and "\x01" not in name and "\x1b" not in name for name in names)
    failure = root.find(".//failure")
    assert failure is not None and failure.text
    if value in ("\x01", "\x00"):
        assert f"\\x{ord(value):02x}" in failure.text  # shown, not dropped silently


def test_junit_carries_severity_and_timestamp() -> None:
    drifting = record("mail01", "drift", [check("csapi_active_good", "fail"), check("product_verifies", "fail"), check("defs_age")])
    root = ET.fromstring(report_junit.render(build([drifting])))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("timestamp") == "2026-11-26T02:00:00"
    assert root.get("timestamp") == "2026-11-26T02:00:00"
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["run_id"] == "r1" and properties["started"] == STARTED and properties["status"] == "drift"
    cases = {case.get("name", "").split(":")[0]: case for case in suite.findall("testcase")}
    critical = cases["csapi_active_good"].find("failure")
    assert critical is not None and critical.get("type") == "critical"
    assert cases["csapi_active_good"].find("properties/property[@name='severity']").get("value") == "critical"  # type: ignore[union-attr]
    low = cases["product_verifies"]
    assert low.find("failure") is None
    skipped = low.find("skipped")
    assert skipped is not None and "severity low" in (skipped.get("message") or "")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


@pytest.mark.parametrize("value", HOSTILE)
def test_html_escapes_whatever_a_host_returns(value: str) -> None:
    hostile = record(value, "drift", [check("csapi_newest", "fail", actual=value)], message=value)
    hostile["versions"]["csapi_active"] = value
    page = report_html.render(build([hostile]))
    page.encode("utf-8")  # no lone surrogate survives
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page
    for control in ("\x00", "\x01", "\x1b", "\x7f", "\x85", "\ud800", "\ufffe"):
        assert control not in page
    if value.startswith("<img"):
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    if value.startswith("\x1b"):
        assert "\\x1b[31mred\\x1b[0m" in page


def test_html_comes_from_the_shipped_template_with_autoescape() -> None:
    assert (report_html.TEMPLATES / report_html.TEMPLATE).is_file()
    assert report_html._template().environment.autoescape is True


def test_console_prints_host_data_as_text() -> None:
    built = build([record("\x1b]0;owned\x07mail", "drift", [check("csapi_newest", "fail", actual="\x1b[2J")], message="\x1b[2J")])
    for line in report_console.problem_lines(built) + report_console.table(built) + list(report_console.failures(built, "drift").values()):
        assert "\x1b" not in line and "\x07" not in line


def with_store_problems(made: report.Record, *names: str) -> report.Record:
    entries: list[report.StoreProblem] = [
        {"store": "csapi", "code": "NAME_UNDECODABLE", "message": f"The folder {name} in the store ...", "path": f"/defs/csapi/{name}"}
        for name in names
    ]
    return {**made, "store_problems": {"count": len(entries), "entries": entries}}


STORE_HOSTILE = ["<script>alert(1)</script>", "evil\nname", "line\r\nbreak", *HOSTILE]


@pytest.mark.parametrize("value", STORE_HOSTILE)
def test_store_problems_are_shown_safely_in_every_report(value: str) -> None:
    hostile = with_store_problems(record("mail01", "compliant"), value, "plain")
    built = build([hostile, record("mail02", "compliant")])
    assert built["hosts"][0]["store_problems"]["count"] == 2
    assert built["summary"]["hosts_with_store_problems"] == 1
    page = report_html.render(built)
    page.encode("utf-8")
    assert "<script>alert" not in page and "<img src=x" not in page
    assert page.count('<li class="store-problem">') == 2
    assert 'id="hosts-with-store-problems"><b>1</b>' in page
    if value.startswith("evil"):
        assert "evil\\nname" in page  # the newline is shown, not taken as a line break
    root = ET.fromstring(report_junit.render(built).encode("utf-8"))
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "mail01")
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["store_problems"] == "2"
    lines = (suite.findtext("system-out") or "").strip().splitlines()
    assert len(lines) == 2 and lines[1].endswith("/defs/csapi/plain: The folder plain in the store ...")
    assert all("\x1b" not in line and "\x01" not in line for line in lines)


def test_store_problems_count_all_and_list_the_first() -> None:
    many = with_store_problems(record("mail01", "compliant"), *(f"n{i}" for i in range(report.STORE_PROBLEMS_SHOWN + 5)))
    built = build([many])
    problems = built["hosts"][0]["store_problems"]
    assert problems["count"] == report.STORE_PROBLEMS_SHOWN + 5
    assert len(problems["entries"]) == report.STORE_PROBLEMS_SHOWN
    schema = json.loads(report.SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$defs"]["store_problems"]["properties"]["entries"]["maxItems"] == report.STORE_PROBLEMS_SHOWN
    page = report_html.render(built)
    assert f"{report.STORE_PROBLEMS_SHOWN + 5} store problems (the first {report.STORE_PROBLEMS_SHOWN} listed)" in page


def test_a_record_without_store_problems_has_none() -> None:
    made = record("mail01", "compliant")
    assert made["store_problems"] == {"count": 0, "entries": []}
    del made["store_problems"]  # a record written by hand for defs_report
    built = build([made])
    assert built["hosts"][0]["store_problems"] == {"count": 0, "entries": []}
    assert built["summary"]["hosts_with_store_problems"] == 0
    page = report_html.render(built)
    assert 'class="store-problem"' not in page
    suite = ET.fromstring(report_junit.render(built)).find("testsuite")
    assert suite is not None and suite.find("system-out") is None


def test_host_record_takes_the_store_problems_of_the_verification() -> None:
    problem = {"code": "STORE_TOO_MANY_ENTRIES", "message": "The store holds 4 folder(s) more", "path": "/defs/hawking"}
    smsmse_defs = {
        "verification": {
            "active": {"csapi": {"version": None, "status": "none", "errors": []}},
            "newest_good": {"overall": None},
            "sets": [],
            "store_problems": {"csapi": [], "hawking": [problem]},
        },
        "product": {"version": "6.5.8", "scheme": "csapi"},
    }
    made = health.host_record("mail01", smsmse_defs=smsmse_defs, checks_=[], actions=[], status="compliant", today=TODAY)
    assert made["store_problems"] == {"count": 1, "entries": [{"store": "hawking", **problem}]}


# --- grading and the HTML's content ---


def test_status_of_keeps_its_default_and_takes_severities() -> None:
    low_only = [check("product_verifies", "fail"), check("csapi_newest")]
    assert health.status_of(low_only, changed=False, failed=False) == "drift"
    assert health.status_of(low_only, changed=False, failed=False, fail_severities=("critical", "high", "medium")) == "compliant"
    assert health.status_of(low_only, changed=True, failed=False, fail_severities=("critical",)) == "fixed"
    assert health.status_of(low_only, changed=False, failed=False, fail_severities=("low",)) == "drift"


def test_a_low_severity_check_alone_does_not_make_a_host_drift_unless_asked() -> None:
    low = record("mail19", "drift", [check("product_verifies", "fail"), check("csapi_newest")], message="CSAPI is at the newest good set")
    default = build([low])
    assert default["hosts"][0]["status"] == "compliant"
    assert default["hosts"][0]["why_no_action"] == (
        "Nothing to do: the failing checks are of severity low, which defs_health_fail_severities does not count; "
        + health.CHECKS["product_verifies"][2]
    )
    asked = build([low], fail_severities=["critical", "high", "medium", "low"])
    assert asked["hosts"][0]["status"] == "drift"
    assert asked["options"]["fail_severities"] == ["critical", "high", "medium", "low"]
    assert asked["hosts"][0]["why_no_action"] == (
        "Nothing was changed: no promote, rollback or LiveUpdate fixes product_verifies (CSAPI is at the newest good set). "
        + health.CHECKS["product_verifies"][2]
    )


def test_html_says_planned_or_done_and_why_nothing_was_done() -> None:
    planned = {"action": "promote", "result": "planned", "version": "20261126.001", "previous": None, "message": "newer good set"}
    done = {**planned, "result": "done", "message": ""}
    hosts = [
        record("planned", "drift", [check("csapi_newest", "fail")], actions=[planned]),
        record("done", "fixed", [check("csapi_newest", "fixed")], actions=[done]),
        record("stuck", "drift", [check("trust_agreement", "fail")], message="CSAPI is at the newest good set 20261125.001"),
    ]
    page = report_html.render(build(hosts))
    assert "promote 20261126.001 planned (report mode): newer good set" in page
    assert '<div class="action">promote 20261126.001 done</div>' in page
    assert (
        "Nothing was changed: no promote, rollback or LiveUpdate fixes trust_agreement (CSAPI is at the newest good set 20261125.001)."
        in page
    )


def past(started: str, statuses: dict[str, str]) -> report.KeptRun:
    hosts = [record(name, status) for name, status in statuses.items()]
    return cast(report.KeptRun, {"run_id": started, "started": started, "hosts": hosts, "summary": report.summary(hosts)})


def test_drift_since_runs_and_days_from_the_history() -> None:
    history = [
        past("2026-11-22T02:00:00Z", {"a": "drift", "b": "compliant"}),
        past("2026-11-23T02:00:00Z", {"a": "compliant", "b": "drift"}),
        past("2026-11-24T02:00:00Z", {"a": "drift", "b": "failed"}),
        past("2026-11-25T02:00:00Z", {"a": "drift", "b": "drift"}),
    ]
    built = build([record("a", "drift", [check("csapi_newest", "fail")]), record("b", "compliant"), record("c", "failed")], history)
    hosts = {h["name"]: h for h in built["hosts"]}
    assert (hosts["a"]["drifting_since"], hosts["a"]["drift_runs"], hosts["a"]["drift_days"]) == ("2026-11-24T02:00:00Z", 3, 2)
    assert (hosts["b"]["drifting_since"], hosts["b"]["drift_runs"]) == (None, None)
    assert (hosts["c"]["drifting_since"], hosts["c"]["drift_runs"], hosts["c"]["drift_days"]) == (STARTED, 1, 0)
    page = report_html.render(built)
    assert "2026-11-24T02:00:00Z (2 days, 3 runs)" in page
    trend = report_html.trend(built)
    assert [column["started"] for column in trend] == [h["started"] for h in history] + [STARTED]
    assert {p["status"]: p["count"] for p in trend[-1]["parts"]} == {"compliant": 1, "fixed": 0, "drift": 1, "failed": 1, "unreachable": 0}


def test_history_retention(tmp_path: Path) -> None:
    for day in range(1, 6):
        started = f"2026-11-0{day}T02:00:00Z"
        built = report.build(
            [record("a", "drift", [check("csapi_newest", "fail")])],
            run_id=f"run{day}",
            started=started,
            ended=started,
            options={},
            history=report.load_history(tmp_path, 2),
        )
        report.write(built, tmp_path, ["json"], history_runs=3)
    assert sorted(p.name for p in (tmp_path / "history").iterdir()) == [f"defs-health-run{d}.json" for d in (3, 4, 5)]
    assert json.loads((tmp_path / "defs-health.json").read_text())["hosts"][0]["drift_runs"] == 3
    (tmp_path / "history" / "defs-health-run0.json").write_text("[" * 100000)  # damaged: skipped, not a crash
    os.mkfifo(tmp_path / "history" / "defs-health-run00.json")  # never read: a read would block
    assert [r["run_id"] for r in report.load_history(tmp_path, 2)] == ["run4", "run5"]
    report.write(built, tmp_path, ["json"], history_runs=0)
    assert list((tmp_path / "history").iterdir()) == []


def test_a_kept_run_holds_what_the_history_needs_not_every_check(tmp_path: Path) -> None:
    # sixty kept runs of 1,000 full reports are about 190 MB read on every run; drift needs names and statuses only
    hosts = [record(f"mail{i:03d}", "drift", [check(c, "fail") for c in health.CHECKS]) for i in range(50)]
    built = build(hosts)
    report.write(built, tmp_path, ["json"], history_runs=5)
    kept_file = tmp_path / "history" / "defs-health-r1.json"
    kept = json.loads(kept_file.read_text())
    assert kept["hosts"] == [{"name": h["name"], "status": h["status"]} for h in built["hosts"]]
    assert (kept["run_id"], kept["started"], kept["ended"], kept["summary"]) == ("r1", STARTED, ENDED, built["summary"])
    assert kept_file.stat().st_size * 10 < (tmp_path / "defs-health.json").stat().st_size
    later = report.build(hosts, run_id="r2", started=ENDED, ended=ENDED, options={}, history=report.load_history(tmp_path, 5))
    assert {h["drift_runs"] for h in later["hosts"]} == {2} and later["history"][0]["summary"] == built["summary"]


def test_kept_runs_written_whole_by_earlier_versions_still_count(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    older = build([record("a", "drift", [check("csapi_newest", "fail")])])
    (tmp_path / "history" / "defs-health-r1.json").write_text(json.dumps(older))
    later = report.build(
        [record("a", "drift", [check("csapi_newest", "fail")])],
        run_id="r2",
        started=ENDED,
        ended=ENDED,
        options={},
        history=report.load_history(tmp_path, 5),
    )
    assert later["hosts"][0]["drift_runs"] == 2


class CountingHosts(list):  # type: ignore[type-arg]
    """A history run's host list that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        CountingHosts.walks += 1
        return super().__iter__()


def test_history_is_read_once_per_run_whatever_the_fleet_size() -> None:
    # every host drifts in every kept run: looking each host up by walking every run's host list is quadratic
    names = [f"mail{i:04d}" for i in range(300)]
    history: list[report.KeptRun] = [
        {  # type: ignore[typeddict-item]  # a kept run holding only what drift reads
            "run_id": f"r{day}",
            "started": f"2026-11-{day:02d}T02:00:00Z",
            "summary": {},
            "hosts": CountingHosts(record(n, "drift") for n in names),
        }
        for day in range(10, 25)
    ]
    CountingHosts.walks = 0
    built = report.build(
        [record(n, "drift", [check("csapi_newest", "fail")]) for n in names],
        run_id="now",
        started=STARTED,
        ended=ENDED,
        options={},
        history=history,
    )
    assert CountingHosts.walks <= len(history)
    assert {h["drift_runs"] for h in built["hosts"]} == {len(history) + 1}
    assert {h["drifting_since"] for h in built["hosts"]} == {"2026-11-10T02:00:00Z"}


def test_default_report_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = Path("/home/ops")
    assert report.default_dir({"XDG_DATA_HOME": "/data"}, home) == Path("/data/mailsec-smsmse/defs-health")
    assert report.default_dir({}, home) == home / ".local/share/mailsec-smsmse/defs-health"
    assert report.default_dir({"XDG_DATA_HOME": "relative"}, home) == home / ".local/share/mailsec-smsmse/defs-health"
    monkeypatch.chdir(tmp_path)
    assert report.resolve_dir("reports") == tmp_path / "reports"


# --- console and failing the play ---


def fleet() -> report.Report:
    done = {"action": "promote", "result": "done", "version": "20261126.001", "previous": None, "message": ""}
    return build(
        [
            record("ok", "compliant", [check("csapi_newest")]),
            record("fixed1", "fixed", [check("csapi_newest", "fixed")], actions=[done]),
            record("drift1", "drift", [check("free_space", "fail"), check("csapi_active_good", "fail")]),
            record(
                "broken", "failed", [check("csapi_active_good", "fail")], message="LIVEUPDATE_FAILED: LiveUpdate failed. Runbook: 1) ..."
            ),
            record("gone", "unreachable", [], message="timed out"),
        ]
    )


def test_problem_lines_worst_first() -> None:
    assert report_console.problem_lines(fleet()) == [
        "failed      broken  failing csapi_active_good; LIVEUPDATE_FAILED: LiveUpdate failed. Runbook: 1) ...",
        "unreachable gone    timed out",
        "drift       drift1  failing csapi_active_good, free_space; " + health.CHECKS["csapi_active_good"][2],
        "fixed       fixed1  promote 20261126.001 done; fixed csapi_newest",
    ]


def test_fleet_table() -> None:
    lines = report_console.table(fleet())
    assert lines[0].split("  ")[0] == "host" and lines[0].endswith("actions")
    assert [line.split()[0] for line in lines[2:-1]] == ["broken", "gone", "drift1", "fixed1", "ok"]
    assert lines[-1] == "5 hosts: 1 compliant, 1 fixed, 1 drift, 1 failed, 1 unreachable"


def test_fail_on_messages() -> None:
    built = fleet()
    policy = "defs_health_fail_on is 'drift': every host that is not compliant or fixed fails the run."
    assert report_console.failures(built, "drift") == {
        "broken": "LIVEUPDATE_FAILED: LiveUpdate failed. Runbook: 1) ...",
        "gone": f"gone could not be reached: timed out. {policy}",
        "drift1": f"drift1 drifts: csapi_active_good, free_space failing ({health.CHECKS['csapi_active_good'][2]}). {policy}",
    }
    # the default: a host that could not be made healthy, and one that could not be reached, fail the run in any mode
    unreachable = "A host that cannot be reached is never counted healthy (defs_health_fail_on 'never' leaves it to the report)."
    assert report_console.failures(built, "failed") == {
        "broken": "LIVEUPDATE_FAILED: LiveUpdate failed. Runbook: 1) ...",
        "gone": f"gone could not be reached: timed out. {unreachable}",
    }
    assert report_console.failures(built, "never") == {}


def test_enforce_fails_a_host_it_leaves_drifting_by_default_naming_the_option_that_allows_the_fix() -> None:
    built = fleet()
    enforced: report.Report = {**built, "options": {**built["options"], "mode": "enforce"}}
    failed = report_console.failures(enforced, "failed")
    assert sorted(failed) == ["broken", "drift1", "gone"]
    assert failed["drift1"].startswith(
        f"drift1 still drifts after enforce: csapi_active_good, free_space failing ({health.CHECKS['csapi_active_good'][2]}). "
    )
    # a failing check whose detail names the role option that would allow the fix gives that, not a generic remediation
    risk = "The set(s) 20261126.001 (bad) in hawking ... Set defs_health_repair_hawking (or run defs_rollback ...) to move them out."
    held = record("held", "drift", [check("trust_agreement", "fail"), {**check("hawking_newest_good", "fail"), "detail": risk}])
    document: report.Report = {**build([held]), "options": {"mode": "enforce", "fail_severities": ["critical", "high", "medium"]}}
    assert report_console.failures(document, "failed")["held"].startswith(
        f"held still drifts after enforce: trust_agreement, hawking_newest_good failing ({risk}). "
    )
    assert report_console.failures(cast(report.Report, {**document, "options": {"mode": "report"}}), "failed") == {}
    assert report_console.fails(held, "failed", ["critical", "high", "medium"], "enforce")
    assert not report_console.fails(held, "failed", ["critical", "high", "medium"], "report")


# --- the action plugin ---


def run_action(args: dict[str, Any], *, check_mode: bool = False, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "mailsec.smsmse.defs_report"
    play_context = MagicMock()
    play_context.check_mode = check_mode
    plugin = action.ActionModule(task, MagicMock(), play_context, MagicMock(), MagicMock(), MagicMock())
    return plugin.run(task_vars=task_vars or {})


def test_action_writes_into_the_per_user_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    records = [record("a", "drift", [check("csapi_newest", "fail")]), record("b", "compliant")]
    result = run_action({"records": records, "run_id": "r1", "started": STARTED, "fail_on": "drift"})
    assert not result.get("failed"), result
    folder = tmp_path / "mailsec-smsmse" / "defs-health"
    assert result["report_dir"] == str(folder)
    assert result["files"]["junit"] == str(folder / "defs-health.junit.xml")
    assert (folder / "history" / "defs-health-r1.json").is_file()
    assert result["hosts"] == {"compliant": ["b"], "fixed": [], "drift": ["a"], "failed": [], "unreachable": []}
    assert list(result["fail"]) == ["a"] and result["lines"][0].startswith("drift       a  failing csapi_newest")


class Undefined:
    """What Ansible's hostvars give for a host the inventory does not hold (a strict undefined marker): any attribute is
    the marker again, and using it (calling it) raises."""

    def __getattr__(self, name: str) -> Undefined:
        return self

    def __call__(self, *args: object) -> None:
        raise RuntimeError("'hostvars' has no such host")


def test_action_reads_each_hosts_registered_record_and_reports_a_host_without_one_failed(tmp_path: Path) -> None:
    hostvars: dict[str, object] = {
        "a": {"defs_health_host": {"record": record("a", "compliant")}},
        "b": {},  # registered nothing
        "d": Undefined(),  # a host the hostvars do not know
    }
    args = {"hosts": ["a", "b", "c", "d"], "run_id": "r1", "started": STARTED, "report_dir": str(tmp_path), "fail_on": "never"}
    result = run_action(args, task_vars={"hostvars": hostvars})
    assert not result.get("failed"), result
    assert result["hosts"] == {"compliant": ["a"], "fixed": [], "drift": [], "failed": ["b", "c", "d"], "unreachable": []}
    written = json.loads((tmp_path / "defs-health.json").read_text(encoding="utf-8"))
    messages = {h["name"]: h["message"] for h in written["hosts"]}
    assert {messages[name] for name in "bcd"} == {"the host was not recorded (its defs_health_host task did not run)"}
    assert result["changed"] and set(result["files"]) == {"json", "html", "junit"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ({"run_id": "../x"}, "`run_id` '../x'"),
        ({"history_runs": -1}, "`history_runs` is -1"),
        ({"fail_severities": []}, "`fail_severities` is empty"),
    ],
)
def test_action_refuses_bad_options(args: dict[str, Any], fragment: str, tmp_path: Path) -> None:
    result = run_action({"records": [], "run_id": "r1", "started": STARTED, "report_dir": str(tmp_path), **args})
    assert result["failed"] and result["error"]["code"] == "OPTION_INVALID" and fragment in result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_fixed_by_names_only_the_source_that_healed_the_host() -> None:
    def imported(source: str, **more: Any) -> dict[str, Any]:
        return {"action": "import", "result": "done", "version": "20261125.003", "previous": None, "message": "", "source": source, **more}

    # a set fetched and renamed in, then found not good: the host failed, and no source fixed it
    assert report.fixed_by(report.as_record({"name": "h", "status": "failed", "actions": [imported("/srv/dp")]})) is None
    healed = {"name": "h", "status": "fixed", "actions": [imported("/srv/dp"), imported("https://dp.example.com/smsmse", fixed=True)]}
    assert report.fixed_by(report.as_record(healed)) == "https://dp.example.com/smsmse"
    hosts = [healed, {"name": "g", "status": "failed", "actions": [imported("/srv/dp")]}]
    assert report.hosts_fixed_by(cast(report.Report, {"hosts": hosts})) == {"h": "https://dp.example.com/smsmse"}


def test_the_documents_types_name_what_its_schema_allows() -> None:
    # the Literals of report_types and the enums of schemas/report.json say one thing
    schema = json.loads(report.SCHEMA_PATH.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert list(report.STATUSES) == defs["host"]["properties"]["status"]["enum"] == list(defs["counts"]["required"])
    assert list(get_args(report_types.Severity)) == defs["check"]["properties"]["severity"]["enum"]
    assert list(get_args(report_types.CheckStatus)) == defs["check"]["properties"]["status"]["enum"]
    assert list(get_args(report_types.ActionKind)) == defs["action"]["properties"]["action"]["enum"]
    assert list(get_args(report_types.ActionResult)) == defs["action"]["properties"]["result"]["enum"]
    assert set(report_types.Host.__required_keys__) == set(defs["host"]["required"])
    assert set(report_types.Report.__required_keys__) == set(schema["required"])
    assert set(report_types.Versions.__annotations__) == set(defs["versions"]["properties"])


def test_a_status_that_is_none_of_the_reports_is_refused_by_name() -> None:
    assert report_types.as_status("drift") == "drift"
    with pytest.raises(ValueError, match="'healthy' is not a host status of the report"):
        report_types.as_status("healthy")
