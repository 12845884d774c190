"""The HTML report in headless Chromium: it loads with no console errors, counts right, filters, pages, searches, and escapes host data."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from ansible_collections.mailsec.smsmse.bench import report_html as bench
from ansible_collections.mailsec.smsmse.bench import report_write
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_html

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium")
TODAY = dt.datetime.now(dt.timezone.utc).date()
HOSTILE = "<img src=x onerror=alert(1)>"
CONTROL = "mail\x01\x1b[31m"


def records() -> list[report.Record]:
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
    return [report.as_record(r) for r in made]


@pytest.fixture
def page_file(tmp_path: Path) -> Path:
    history = [
        cast(
            report.KeptRun,
            {"run_id": f"old-{day}", "started": f"2026-11-2{day}T00:00:00Z", "hosts": [], "summary": report.summary(records()[day:])},
        )
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


@contextmanager
def opened(page_file: Path, init_script: str | None = None) -> Iterator[Any]:
    """The page in headless Chromium; afterwards, no console error or warning, page error or dialog happened."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=bench.CHROMIUM_ARGS)
        page = browser.new_page()
        page.on(
            "console",
            lambda message: problems.append(f"console {message.type}: {message.text}") if message.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        if init_script:
            page.add_init_script(init_script)
        page.goto(page_file.as_uri())
        yield page
        browser.close()
    assert problems == []


NO_CHROMIUM = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/ensure_chromium.sh installs it as root)")


@NO_CHROMIUM
def test_page_in_headless_chromium(page_file: Path) -> None:
    with opened(page_file) as page:
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
        assert page.locator("#page").inner_text() == "page 1 of 1"  # a small fleet is one view
        assert page.locator("#range").inner_text() == "hosts 1\u201312 of 12"
        assert page.locator("#next").is_disabled() and page.locator("#prev").is_disabled()
        page.fill("#search", "<IMG")
        assert page.locator("tr.host:visible").count() == 1 and page.locator("#shown").inner_text() == "1"
        assert page.locator("tr.host:visible td").first.inner_text() == HOSTILE
        page.fill("#search", "")
        assert page.locator("tr.host:visible").count() == 12 and page.locator("#shown").inner_text() == "12"
        assert page.locator("#chart-versions rect").count() == 3
        assert page.locator("#chart-age rect").count() == len(report_html.AGE_BUCKETS) + 1  # and the bar of hosts whose active set is bad
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


def test_page_is_self_contained_and_escaped(page_file: Path) -> None:
    text = page_file.read_text()
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "Content-Security-Policy" in text and "<link" not in text and 'src="http' not in text


def fleet_file(folder: Path) -> Path:
    built = bench.document(1000)
    assert built["summary"]["counts"] == {"compliant": 375, "fixed": 125, "drift": 250, "failed": 125, "unreachable": 125}
    return Path(report.write(built, folder, ["html"])["html"])


VISIBLE_NAMES = "rows => rows.filter(r => r.offsetParent !== null).map(r => r.dataset.name)"


def visible_names(page: Any) -> list[str]:
    return [str(name) for name in page.eval_on_selector_all("tr.host", VISIBLE_NAMES)]


@NO_CHROMIUM
def test_a_thousand_hosts_in_pages(tmp_path: Path) -> None:
    """1,000 hosts: 100 rows of one status at a time; the filter and the pager move between pages; the search finds across them."""
    with opened(fleet_file(tmp_path)) as page:

        def state() -> tuple[str, str, str, int]:
            return (
                page.inner_text("#shown"),
                page.inner_text("#page"),
                page.inner_text("#range"),
                page.locator("tbody.page:not([hidden])").count(),
            )

        # failed 100 + 25, unreachable 100 + 25, drift 2 x 100 + 50, fixed 100 + 25, compliant 3 x 100 + 75: 13 pages under "all"
        assert state() == ("1000", "page 1 of 13", "hosts 1\u2013100 of 1000", 1)
        shown = visible_names(page)
        assert len(shown) == 100 and page.locator("tr.host:visible[data-status=failed]").count() == 100
        page.click("#next")
        assert state() == ("1000", "page 2 of 13", "hosts 101\u2013125 of 1000", 1)
        assert page.locator("tr.host:visible[data-status=failed]").count() == 25 and not set(visible_names(page)) & set(shown)
        page.click("#prev")
        assert state() == ("1000", "page 1 of 13", "hosts 1\u2013100 of 1000", 1) and visible_names(page) == shown

        page.select_option("#filter", "drift")
        assert state() == ("250", "page 1 of 3", "hosts 1\u2013100 of 250", 1)
        assert page.locator("tr.host:visible[data-status=drift]").count() == 100
        page.click("#next")
        page.click("#next")
        assert state() == ("250", "page 3 of 3", "hosts 201\u2013250 of 250", 1)
        assert page.locator("#next").is_disabled() and page.locator("tr.host:visible").count() == 50

        mix = report_write.STATUS_MIX
        expected = sorted(f"mail{i:05d}.example.org" for i in range(100, 200) if mix[i % len(mix)] == "drift")
        page.fill("#search", "MAIL001")  # any case, within the filter, across pages
        assert sorted(visible_names(page)) == expected and page.inner_text("#shown") == str(len(expected)) == "25"
        page.select_option("#filter", "all")
        assert len(visible_names(page)) == 100 and all(name.startswith("mail001") for name in visible_names(page))
        assert page.inner_text("#range") == "100 hosts match" and page.inner_text("#shown") == "100"
        page.fill("#search", "")
        assert state() == ("1000", "page 1 of 13", "hosts 1\u2013100 of 1000", 1) and visible_names(page) == shown

        page.select_option("#filter", "compliant")
        for _click in range(3):
            page.click("#next")
        assert state() == ("375", "page 4 of 4", "hosts 301\u2013375 of 375", 1)


# What a browser does when it restores a reloaded page's form: the controls hold values before the page's script runs.
RESTORED_CONTROLS = """new MutationObserver((changes, observer) => {
  const filter = document.getElementById('filter'), search = document.getElementById('search');
  if (filter && search && filter.options.length > 1) { filter.value = 'drift'; search.value = 'Drift1'; observer.disconnect(); }
}).observe(document, {childList: true, subtree: true});"""


@NO_CHROMIUM
def test_restored_controls_are_applied_at_load(page_file: Path) -> None:
    with opened(page_file, RESTORED_CONTROLS) as page:
        assert page.eval_on_selector("#filter", "e => e.value") == "drift"
        assert visible_names(page) == ["drift1"] and page.inner_text("#shown") == "1"
