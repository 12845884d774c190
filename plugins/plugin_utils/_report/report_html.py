"""The HTML form of a defs_health report: one self-contained page, from a Jinja2 template with autoescape.

The template (``templates/defs-health.html.j2``, shipped next to this file) gets
plain data; every value it prints is escaped by Jinja2 and passed through
:func:`safe_text.text` first, so host data can neither run nor break the page.
The chart geometry (bars of the fleet's status counts per kept run, versions,
definition ages) and the host table's pages are computed here, the drawing is in the template.

A fleet of a thousand hosts would make one table too slow to lay out and filter,
so the hosts (worst first) are cut into pages of at most :data:`PAGE_ROWS` hosts of
one status, each its own ``<tbody>``. The status filter shows the pages of one status;
"all" shows the pages in order, packing consecutive small ones into one view while
they fit (a small fleet is one view). Only the first view is shown at load; the
page's script moves between views by toggling the ``hidden`` attribute of a few
``<tbody>`` elements, never of rows. Without scripts every page is shown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, words
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.report_types import Action, Check, Host, PastRun, Report, Status
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report.safe_text import text

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEMPLATE = "defs-health.html.j2"
AGE_BUCKETS = (("0-1 d", 0, 1), ("2-3 d", 2, 3), ("4-7 d", 4, 7), ("8-14 d", 8, 14), ("> 14 d", 15, None))
BAR_WIDTH, BAR_GAP, TREND_HEIGHT = 18, 6, 120
PAGE_ROWS = 100
ACTION_RESULTS = {"planned": "planned (report mode)", "done": "done", "failed": "failed"}


class ShownProblems(TypedDict):
    """A host's store problems as the page shows them: how many, and the first as lines of text."""

    count: int
    entries: list[str]


class Row(TypedDict):
    """A host's row in the page's table (``key``: its name in lower case, for the search)."""

    name: str
    key: str
    status: Status
    csapi: str
    age: int | str
    product: str
    failing: str
    actions: list[str]
    why: str
    drift: str
    checks: list[Check]
    message: str
    store_problems: ShownProblems


class Bar(TypedDict):
    """A horizontal bar of a chart: its label, its count, and its length in pixels."""

    label: str
    count: int
    length: int


class TrendPart(TypedDict):
    """One status's part of a run's column in the trend chart: its count, top and height (pixels)."""

    status: Status
    count: int
    y: int
    height: int


class TrendColumn(TypedDict):
    """One run's column in the trend chart: where it stands (pixels), when the run started, and its parts."""

    x: int
    started: str
    parts: list[TrendPart]


class Page(TypedDict):
    """Rows of one status shown together, the view (from 1) they belong to under the filter "all", and whether hidden at load."""

    status: Status
    rows: list[Row]
    view: int
    hidden: bool


def _finalize(value: object) -> object:
    from markupsafe import Markup

    if value is None or isinstance(value, (Markup, int, float)):
        return "" if value is None else value
    return text(value)


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template(TEMPLATE)


def _age_bucket(days: int) -> str:
    return next((label for label, low, high in AGE_BUCKETS if days >= low and (high is None or days <= high)), AGE_BUCKETS[0][0])


#: the age chart's bar of hosts whose active set is bad: its age protects nothing
BAD_ACTIVE = "active set bad"


def age_counts(document: Report) -> dict[str, int]:
    """Hosts per definition age bucket (of their CSAPI active set), and those whose active set is bad apart."""
    found = dict.fromkeys([label for label, _low, _high in AGE_BUCKETS] + [BAD_ACTIVE], 0)
    for host in document["hosts"]:
        days = host["versions"]["age_days"]
        if days is not None:
            found[BAD_ACTIVE if report.active_set_bad(host) else _age_bucket(days)] += 1
    return found


def bars(counts: Sequence[tuple[str, int]]) -> list[Bar]:
    """Horizontal bars: label, count, length (px, the largest 200)."""
    top = max((count for _label, count in counts), default=0) or 1
    return [{"label": label, "count": count, "length": int(200 * count / top)} for label, count in counts]


def trend(document: Report) -> list[TrendColumn]:
    """One stacked column per kept run and this one, oldest first: the fleet's status counts."""
    runs: list[PastRun] = [
        *document["history"],
        {"run_id": document["run_id"], "started": document["started"], "summary": document["summary"]},
    ]
    columns: list[TrendColumn] = []
    for i, run in enumerate(runs):
        counts = run["summary"]["counts"]
        total = sum(counts.get(s, 0) for s in report.STATUSES) or 1
        y = TREND_HEIGHT
        parts: list[TrendPart] = []
        for status in report.STATUSES:
            count = counts.get(status, 0)
            height = round(TREND_HEIGHT * count / total)
            y -= height
            parts.append({"status": status, "count": count, "y": y, "height": height})
        columns.append({"x": i * (BAR_WIDTH + BAR_GAP), "started": run.get("started") or "", "parts": parts})
    return columns


def _action(action: Action) -> str:
    version = f" {action['version']}" if action.get("version") else ""
    message = f": {action['message']}" if action.get("message") else ""
    source = f" from {action['source']}" if action.get("source") else ""
    return f"{action['action']}{version}{source} {ACTION_RESULTS.get(action['result'], action['result'])}{message}"


def _drift(host: Host) -> str:
    if not host.get("drifting_since"):
        return ""
    days = host.get("drift_days")
    runs = host.get("drift_runs")
    return f"{host['drifting_since']} ({words.days(days) if days is not None else '? days'}, {words.plural(runs or 0, 'run')})"


def _store_problems(host: Host) -> ShownProblems:
    found = report.store_problems_of(host)
    return {"count": found["count"], "entries": [report.store_problem_line(e) for e in found["entries"]]}


def rows(document: Report) -> list[Row]:
    fail_severities = report.fail_severities_of(document)
    found: list[Row] = []
    for host in document["hosts"]:
        versions = host["versions"]
        found.append(
            {
                "name": host["name"],
                "key": str(host["name"]).lower(),
                "status": host["status"],
                "csapi": report.csapi_label(host),
                "age": "-" if versions["age_days"] is None else versions["age_days"],
                "product": versions["product"] or "-",
                "failing": ", ".join(c["id"] for c in report.failing(host, fail_severities)) or "-",
                "actions": [_action(a) for a in host["actions"]],
                "why": host.get("why_no_action") or "",
                "drift": _drift(host),
                "checks": [{**c, "expected": words.value(c["expected"]), "actual": words.value(c["actual"])} for c in host["checks"]],
                "message": host["message"],
                "store_problems": _store_problems(host),
            }
        )
    return found


def pages(found: Sequence[Row], size: int = PAGE_ROWS) -> list[Page]:
    """The rows cut into pages of at most ``size`` rows of one status, in the order of their statuses' first rows.

    Each page has ``status``, ``rows``, ``view`` (its view under the filter "all", from 1: consecutive pages share
    a view while their rows fit in ``size``) and ``hidden`` (every page but those of the first view).
    """
    by_status: dict[Status, list[Row]] = {}
    for row in found:
        by_status.setdefault(row["status"], []).append(row)
    cut: list[Page] = []
    view, filled = 1, 0
    for status, group in by_status.items():
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            if filled and filled + len(chunk) > size:
                view, filled = view + 1, 0
            cut.append({"status": status, "rows": chunk, "view": view, "hidden": view != 1})
            filled += len(chunk)
    return cut


def render(document: Report) -> str:
    hosts = document["hosts"]
    reached = [h for h in hosts if h["status"] != "unreachable"]
    versions = Counter(report.csapi_label(h).replace("-", "none") if h["versions"]["csapi_active"] else "none" for h in reached)
    ages = age_counts(document)
    runs = trend(document)
    found = rows(document)
    cut = pages(found)
    return str(
        _template().render(
            document=document,
            statuses=report.STATUSES,
            rows=found,
            pages=cut,
            views=max((page["view"] for page in cut), default=0),
            first_view=sum(len(page["rows"]) for page in cut if not page["hidden"]),
            version_bars=bars(sorted(versions.items())),
            age_bars=bars(list(ages.items())),
            trend=runs,
            trend_width=max(len(runs) * (BAR_WIDTH + BAR_GAP), 200),
            trend_height=TREND_HEIGHT,
            bar_width=BAR_WIDTH,
        )
    )
