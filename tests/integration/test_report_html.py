"""The HTML report in headless Chromium: it loads with no console errors, counts right, filters, and escapes host data."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import health, report, report_html

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium")
TODAY = dt.datetime.now(dt.timezone.utc).date()
HOSTILE = "<img src=x onerror=alert(1)>"
CONTROL = "mail\x01\x1b[31m"


def records() -> list[dict[str, Any]]:
    failing = [{**health.error_check("boom"), "status": "error"}]
    made = [health.host_record(f"ok{i}", smsmse_defs=None, checks_=[], actions=[], status="compliant", today=TODAY) for i in range(5)]
    made += [health.host_record(f"fixed{i}", smsmse_defs=None, checks_=[], actions=[], status="fixed", today=TODAY) for i in range(3)]
    made += [
        health.host_record(f"drift{i}", smsmse_defs=None, checks_=failing, actions=[], status="drift", message=HOSTILE, today=TODAY)
        for i in range(2)
    ]
    made.append(health.host_record(HOSTILE, smsmse_defs=None, checks_=failing, actions=[], status="failed", message=HOSTILE, today=TODAY))
    made.append(health.host_record("gone", smsmse_defs=None, checks_=[], actions=[], status="unreachable", message=CONTROL, today=TODAY))
    planned = {"action": "promote", "result": "planned", "version": "20261126.001", "previous": None, "message": "newer good set"}
    made[8]["actions"] = [planned]
    for i, record in enumerate(made):
        record["versions"].update(csapi_active=f"2026112{i % 3}.001", age_days=i % 9)
    return made


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    history = [
        {"run_id": f"old-{day}", "started": f"2026-11-2{day}T00:00:00Z", "hosts": [], "summary": report.summary(records()[day:])}
        for day in range(3)
    ]
    built = report.build(
        records(),
        run_id="test-1",
        started="2026-11-26T00:00:00Z",
        ended="2026-11-26T00:01:00Z",
        options={"mode": "report"},
        history=history,
    )
    assert report.validate(built) == []
    return Path(report.write(built, tmp_path, ["html"])["html"])


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/ensure_chromium.sh installs it as root)")
def test_page_in_headless_chromium(page_file: Path) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.on(
            "console",
            lambda message: problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        page.goto(page_file.as_uri())
        counts = {s: page.locator(f"#count-{s} b").inner_text() for s in report.STATUSES}
        assert counts == {"compliant": "5", "fixed": "3", "drift": "2", "failed": "1", "unreachable": "1"}
        assert page.locator("#total").inner_text() == "12"
        rows = page.locator("tr.host")
        assert rows.count() == 12
        assert rows.nth(0).get_attribute("data-status") == "failed"  # worst first
        assert rows.nth(0).locator("td").first.inner_text() == HOSTILE  # shown as text, not run
        page.select_option("#filter", "drift")
        assert page.locator("#shown").inner_text() == "2"
        assert page.locator("tr.host:visible").count() == 2
        page.select_option("#filter", "all")
        assert page.locator("tr.host:visible").count() == 12
        assert page.locator("#chart-versions rect").count() == 3
        assert page.locator("#chart-age rect").count() == len(report_html.AGE_BUCKETS)
        assert page.locator("#chart-trend g.run").count() == 4  # three kept runs and this one
        last = page.locator("#chart-trend g.run").nth(3)
        assert {r.get_attribute("data-status"): r.get_attribute("data-count") for r in last.locator("rect").all()} == {
            "compliant": "5",
            "fixed": "3",
            "drift": "2",
            "failed": "1",
            "unreachable": "1",
        }
        planned = page.locator("tr.host", has_text="drift0")
        assert planned.locator("td.actions").inner_text() == "promote 20261126.001 planned (report mode): newer good set"
        assert page.locator("tr.host", has_text="gone").locator("td").first.inner_text() == "gone"
        assert "mail\\x01\\x1b[31m" in (page.locator("tr.host", has_text="gone").locator("details").text_content() or "")
        browser.close()
    assert problems == []


def test_page_is_self_contained_and_escaped(page_file: Path) -> None:
    text = page_file.read_text()
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "Content-Security-Policy" in text and "<link" not in text and 'src="http' not in text
