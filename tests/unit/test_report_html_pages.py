"""The HTML report's host table in pages: one status per page, at most PAGE_ROWS rows, every host once, the first view shown."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_html

N = report_html.PAGE_ROWS
TODAY = dt.date(2026, 11, 26)
HOSTILE = '<img src=x onerror=alert(1)> " onmouseover="alert(2)'


def row(name: str, status: str) -> report_html.Row:
    """A row as the table's pages read it: its name and status (what pages() cuts by); the rest is not read."""
    return cast(report_html.Row, {"name": name, "status": status})


def page_built(hosts: list[tuple[str, str]]) -> str:
    failing = [health.error_check("boom")]  # a drifting host has a failing check (the report grades it again)
    records = [
        health.host_record(name, smsmse_defs=None, checks_=failing if status == "drift" else [], actions=[], status=status, today=TODAY)
        for name, status in hosts
    ]
    built = report.build(records, run_id="r1", started="2026-11-26T02:00:00Z", ended="2026-11-26T02:05:00Z", options={}, history=[])
    return report_html.render(built)


class Table(HTMLParser):
    """The pages (tbody attributes) and their host rows (tr attributes) as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: list[dict[str, Any]] = []
        self.noscript_style = False
        self._in_noscript = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tbody":
            self.pages.append({**found, "rows": []})
        elif tag == "tr" and found.get("class") == "host":
            self.pages[-1]["rows"].append(found)
        self._in_noscript = tag == "noscript" or (self._in_noscript and tag == "style")

    def handle_data(self, data: str) -> None:
        if self._in_noscript and "tbody.page[hidden]{display:table-row-group}" in data:
            self.noscript_style = True


def parsed(page: str) -> Table:
    table = Table()
    table.feed(page)
    return table


def test_one_more_host_than_a_page_holds_makes_two_pages() -> None:
    cut = report_html.pages([row(f"h{i:03d}", "drift") for i in range(N + 1)])
    assert [(p["status"], len(p["rows"]), p["view"], p["hidden"]) for p in cut] == [("drift", N, 1, False), ("drift", 1, 2, True)]


def test_statuses_never_share_a_page_but_a_small_fleet_is_one_view() -> None:
    cut = report_html.pages([row("a", "failed"), row("b", "drift"), row("c", "drift"), row("d", "compliant")])
    assert [(p["status"], [r["name"] for r in p["rows"]]) for p in cut] == [("failed", ["a"]), ("drift", ["b", "c"]), ("compliant", ["d"])]
    assert {p["view"] for p in cut} == {1} and not any(p["hidden"] for p in cut)


def test_no_hosts_no_pages() -> None:
    assert report_html.pages([]) == []


@given(st.lists(st.sampled_from(report.STATUSES), max_size=3 * N), st.integers(min_value=1, max_value=N))
def test_pages_hold_every_host_once_one_status_each_and_views_fit(statuses: list[str], size: int) -> None:
    found = [row(f"h{i}", status) for i, status in enumerate(sorted(statuses, key=health.STATUS_ORDER.__getitem__))]
    cut = report_html.pages(found, size)
    assert [r for p in cut for r in p["rows"]] == found  # every host once, in order
    assert all(p["rows"] and len(p["rows"]) <= size and {r["status"] for r in p["rows"]} == {p["status"]} for p in cut)
    views = [p["view"] for p in cut]
    assert views == sorted(views) and sorted(set(views)) == list(range(1, len(set(views)) + 1))
    for view in set(views):
        assert sum(len(p["rows"]) for p in cut if p["view"] == view) <= size
    assert [p["hidden"] for p in cut] == [v != 1 for v in views]


def test_the_page_shows_the_first_view_and_every_host_once() -> None:
    hosts = [(f"mail{i:04d}", "compliant") for i in range(N + 5)] + [(f"bad{i}", "drift") for i in range(3)] + [(HOSTILE, "failed")]
    page = page_built(hosts)
    table = parsed(page)
    assert [(p["data-status"], len(p["rows"]), "hidden" in p) for p in table.pages] == [
        ("failed", 1, False),
        ("drift", 3, False),
        ("compliant", N, True),  # would not fit with the four above
        ("compliant", 5, True),
    ]
    assert [p["data-view"] for p in table.pages] == ["1", "1", "2", "3"]
    names = [r["data-name"] for p in table.pages for r in p["rows"]]
    assert sorted(names) == sorted(name.lower() for name, _status in hosts)
    assert all(r["data-status"] == p["data-status"] for p in table.pages for r in p["rows"])
    assert 'id="page">page 1 of 3<' in page and 'id="range">hosts 1&ndash;4 of 109<' in page


def test_hostile_names_stay_text_in_data_attributes() -> None:
    page = page_built([(HOSTILE, "failed")])
    table = parsed(page)
    (only,) = table.pages[0]["rows"]
    assert only == {"class": "host", "data-status": "failed", "data-name": HOSTILE.lower()}  # no attribute added by the name
    assert "<img src=x" not in page and '" onmouseover="' not in page


def test_without_scripts_every_page_is_shown() -> None:
    """The hidden attribute hides pages only while the script can show them: a noscript style undoes it."""
    table = parsed(page_built([(f"mail{i:04d}", "compliant") for i in range(N + 1)]))
    assert any("hidden" in p for p in table.pages)
    assert table.noscript_style
