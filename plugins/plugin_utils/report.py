"""The fleet report of a defs_health run: JSON (the main format), a self-contained HTML page, and JUnit XML.

Host data is untrusted: every value that reaches the HTML or XML is escaped.
Earlier runs are kept under ``history/`` so that the report can say since
when a host has been drifting.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.health import SEVERITY_ORDER, STATUS_ORDER

STATUSES = ("compliant", "fixed", "drift", "failed", "unreachable")
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "report.json"
HISTORY_KEEP = 60
AGE_BUCKETS = (("0-1 d", 0, 1), ("2-3 d", 2, 3), ("4-7 d", 4, 7), ("8-14 d", 8, 14), ("> 14 d", 15, None))


def summary(hosts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    counts = Counter(h["status"] for h in hosts)
    total = len(hosts)
    return {
        "hosts": total,
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "percent": {s: round(100.0 * counts.get(s, 0) / total, 1) if total else 0.0 for s in STATUSES},
    }


def worst_first(hosts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(hosts, key=lambda h: (STATUS_ORDER.get(h["status"], 9), h["name"]))


def load_history(report_dir: Path) -> list[dict[str, Any]]:
    """Earlier reports, oldest first (unreadable ones are skipped)."""
    found = []
    for path in sorted((report_dir / "history").glob("defs-health-*.json")):
        try:
            found.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(found, key=lambda r: r.get("started", ""))


def drifting_since(name: str, status: str, history: Sequence[Mapping[str, Any]], started: str) -> str | None:
    """When the host's current run of drift or failure began, counting earlier runs."""
    if status not in ("drift", "failed"):
        return None
    since = started
    for report in reversed(history):
        record = next((h for h in report.get("hosts", []) if h.get("name") == name), None)
        if record is None or record.get("status") not in ("drift", "failed"):
            break
        since = report.get("started", since)
    return since


def build(
    records: Sequence[Mapping[str, Any]],
    *,
    run_id: str,
    started: str,
    ended: str,
    options: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    hosts = [{**r, "drifting_since": drifting_since(r["name"], r["status"], history, started)} for r in worst_first(records)]
    return {
        "schema": "mailsec.smsmse/defs-health-report",
        "version": 1,
        "run_id": run_id,
        "started": started,
        "ended": ended,
        "options": dict(options),
        "summary": summary(hosts),
        "hosts": hosts,
        "history": [{"run_id": r.get("run_id"), "started": r.get("started"), "summary": r.get("summary")} for r in history[-HISTORY_KEEP:]],
    }


def validate(report: Mapping[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]


# --- HTML ---

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}
h1{font-size:20px;margin:0 0 4px} .meta{color:#57606a;margin-bottom:16px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;min-width:110px}
.card b{display:block;font-size:22px} .card span{color:#57606a}
.compliant b{color:#1a7f37}.fixed b{color:#0969da}.drift b{color:#9a6700}.failed b{color:#cf222e}.unreachable b{color:#6e7781}
.charts{display:flex;gap:24px;flex-wrap:wrap;margin-bottom:16px}
.chart{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:10px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} .pill{border-radius:10px;padding:1px 8px;font-size:12px;color:#fff}
.pill.compliant{background:#1a7f37}.pill.fixed{background:#0969da}.pill.drift{background:#9a6700}
.pill.failed{background:#cf222e}.pill.unreachable{background:#6e7781}
details{margin:2px 0} .check-fail{color:#cf222e}.check-fixed{color:#0969da}.check-pass{color:#1a7f37}.check-skipped{color:#6e7781}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_JS = """
document.getElementById('filter').addEventListener('change', function (event) {
  var wanted = event.target.value;
  var shown = 0;
  document.querySelectorAll('tr.host').forEach(function (row) {
    var visible = wanted === 'all' || row.getAttribute('data-status') === wanted;
    row.style.display = visible ? '' : 'none';
    if (visible) { shown += 1; }
  });
  document.getElementById('shown').textContent = String(shown);
});
"""


def _bar_chart(title: str, bars: Sequence[tuple[str, int]], element_id: str) -> str:
    width, row = 360, 22
    top = max((count for _label, count in bars), default=0) or 1
    parts = [f'<svg id="{element_id}" role="img" aria-label="{html.escape(title)}" width="{width}" height="{row * len(bars) + 30}">']
    parts.append(f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>')
    for i, (label, count) in enumerate(bars):
        y = 24 + i * row
        length = int(200 * count / top)
        parts.append(f'<text x="0" y="{y + 14}">{html.escape(label)}</text>')
        parts.append(f'<rect x="110" y="{y + 3}" width="{length}" height="14" fill="#0969da"><title>{count}</title></rect>')
        parts.append(f'<text x="{116 + length}" y="{y + 14}" class="bar-count">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _age_bucket(days: int) -> str:
    for label, low, high in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return AGE_BUCKETS[0][0]


def render_html(report: Mapping[str, Any]) -> str:
    e = html.escape
    hosts = report["hosts"]
    summ = report["summary"]
    version_counts = Counter(h["versions"]["csapi_active"] or "none" for h in hosts if h["status"] != "unreachable")
    ages = Counter(_age_bucket(h["versions"]["age_days"]) for h in hosts if h["versions"]["age_days"] is not None)
    cards = "".join(
        f'<div class="card {s}" id="count-{s}"><b>{summ["counts"][s]}</b><span>{s} ({summ["percent"][s]}%)</span></div>' for s in STATUSES
    )
    rows = []
    for host in hosts:
        failing = [c for c in host["checks"] if c["status"] in ("fail", "error")]
        failing.sort(key=lambda c: SEVERITY_ORDER.get(c["severity"], 9))
        checks = "".join(
            f'<div class="check-{e(c["status"])}">{e(c["status"])}: {e(c["title"])} '
            f"(expected {e(str(c['expected']))}, actual {e(str(c['actual']))})"
            + (f" - {e(c['remediation'])}" if c["status"] in ("fail", "error") else "")
            + "</div>"
            for c in host["checks"]
        )
        actions = "; ".join(f"{a['action']}: {a.get('message', '')}" for a in host["actions"]) or "-"
        v = host["versions"]
        rows.append(
            f'<tr class="host" data-status="{e(host["status"])}"><td>{e(host["name"])}</td>'
            f'<td><span class="pill {e(host["status"])}">{e(host["status"])}</span></td>'
            f"<td>{e(str(v['csapi_active'] or '-'))}</td><td>{e(str(v['age_days'] if v['age_days'] is not None else '-'))}</td>"
            f"<td>{e(str(v['product'] or '-'))}</td><td>{e(', '.join(c['id'] for c in failing) or '-')}</td>"
            f"<td>{e(actions)}</td><td>{e(host.get('drifting_since') or '-')}</td>"
            f"<td><details><summary>{len(host['checks'])} checks</summary>{checks}{e(host.get('message') or '')}</details></td></tr>"
        )
    options = "".join(f'<option value="{s}">{s}</option>' for s in STATUSES)
    version_chart = _bar_chart("CSAPI active version", sorted(version_counts.items()), "chart-versions")
    age_chart = _bar_chart("Definition age", [(label, ages.get(label, 0)) for label, _low, _high in AGE_BUCKETS], "chart-age")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f"<title>SMSMSE definitions health: {summ['hosts']} hosts</title><style>{_CSS}</style></head><body>"
        f"<h1>SMSMSE virus definitions: fleet health</h1>"
        f'<div class="meta">Run {e(report["run_id"])}, {e(report["started"])} to {e(report["ended"])}, '
        f'mode {e(str(report["options"].get("mode", "")))}, <span id="total">{summ["hosts"]}</span> hosts</div>'
        f'<div class="cards">{cards}</div>'
        f'<div class="charts"><div class="chart">{version_chart}</div><div class="chart">{age_chart}</div></div>'
        f'<p><label>Show <select id="filter"><option value="all">all</option>{options}</select></label> '
        f'<span id="shown">{len(hosts)}</span> shown</p>'
        "<table><thead><tr><th>host</th><th>status</th><th>CSAPI</th><th>age (days)</th><th>product</th>"
        "<th>failing checks</th><th>actions</th><th>drifting since</th><th>details</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table><script>{_JS}</script></body></html>\n"
    )


# --- JUnit ---


def render_junit(report: Mapping[str, Any]) -> str:
    suites = []
    totals: Counter[str] = Counter()
    for host in report["hosts"]:
        cases = []
        counts: Counter[str] = Counter()
        checks = host["checks"] or [
            {
                "id": "reachable",
                "title": "The host answers",
                "status": "error",
                "actual": host.get("message", ""),
                "expected": "",
                "remediation": "",
            }
        ]
        for check in checks:
            name = quoteattr(f"{check['id']}: {check['title']}")
            body = ""
            counts["tests"] += 1
            text = f"expected {check['expected']}, actual {check['actual']}. {check.get('remediation', '')}"
            if check["status"] == "fail":
                counts["failures"] += 1
                body = f"<failure message={quoteattr(text)}>{xml_escape(text)}</failure>"
            elif check["status"] == "error":
                counts["errors"] += 1
                body = f"<error message={quoteattr(text)}>{xml_escape(text)}</error>"
            elif check["status"] == "skipped":
                counts["skipped"] += 1
                body = "<skipped/>"
            cases.append(f"<testcase classname={quoteattr(host['name'])} name={name}>{body}</testcase>")
        totals.update(counts)
        suites.append(
            f'<testsuite name={quoteattr(host["name"])} hostname={quoteattr(host["name"])} tests="{counts["tests"]}" '
            f'failures="{counts["failures"]}" errors="{counts["errors"]}" skipped="{counts["skipped"]}">'
            f'<properties><property name="status" value={quoteattr(host["status"])}/></properties>{"".join(cases)}</testsuite>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="defs_health" tests="{totals["tests"]}" failures="{totals["failures"]}" errors="{totals["errors"]}">'
        f"{''.join(suites)}</testsuites>\n"
    )


# --- writing ---

RENDERERS: dict[str, tuple[str, Callable[[Mapping[str, Any]], str]]] = {
    "json": ("defs-health.json", lambda r: json.dumps(r, indent=1, sort_keys=True) + "\n"),
    "html": ("defs-health.html", render_html),
    "junit": ("defs-health.junit.xml", render_junit),
}


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".defs-health-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write(report: Mapping[str, Any], report_dir: Path, formats: Sequence[str]) -> dict[str, str]:
    """Write the report in each format, and keep a copy in the history; return format -> path."""
    report_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for fmt in formats:
        name, render = RENDERERS[fmt]
        _write(report_dir / name, render(report))
        written[fmt] = str(report_dir / name)
    history = report_dir / "history"
    history.mkdir(exist_ok=True)
    _write(history / f"defs-health-{report['run_id']}.json", json.dumps(report, sort_keys=True))
    for old in sorted(history.glob("defs-health-*.json"))[:-HISTORY_KEEP]:
        old.unlink()
    return written
