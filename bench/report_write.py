"""The controller's once-per-run report work at fleet sizes: history, build, validation, and the three formats.

Run: ``python bench/report_write.py --sizes 200,1000`` (``make bench`` runs it). For each size it makes host
records shaped like the lab's (a third compliant, the rest drifted, fixed, failed or unreachable; every check
of :data:`health.CHECKS` per host; some hosts with store problems), writes ``--history`` earlier runs the way
the role keeps them, then times each step of the report as ``defs_report`` runs it. The baseline, measured in
the same run, is serialising the same document with ``json.dumps`` (what any tool writing the report pays).
Goal (issue "a thousand servers"): the three formats written in under 2 s at 1,000 hosts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import table
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_html, report_junit

TODAY = dt.date(2026, 11, 26)
NEWEST, OLDER = "20261125.002", "20261120.001"
STATUS_MIX = ("compliant", "compliant", "compliant", "drift", "drift", "fixed", "failed", "unreachable")


def records(size: int) -> list[report.Record]:
    made = []
    for i in range(size):
        status = STATUS_MIX[i % len(STATUS_MIX)]
        failing = {"csapi_newest", "csapi_age"} if status in ("drift", "failed") else set()
        checks = [health._check(c, c not in failing, NEWEST, OLDER if c in failing else NEWEST) for c in health.CHECKS]
        checks = [] if status == "unreachable" else checks
        actions = [{"action": "promote", "version": "20261125.002", "result": "done", "message": ""}] if status == "fixed" else []
        record = health.host_record(
            f"mail{i:05d}.example.org", smsmse_defs=None, checks_=checks, actions=actions, status=status, today=TODAY
        )
        if status != "unreachable":
            record["versions"].update(csapi_active="20261125.002", age_days=i % 20, product="7.5.4")
        if i % 50 == 7:
            entry = {"store": "csapi", "code": "NAME_UNDECODABLE", "message": "a name that is not text"}
            record["store_problems"] = {"count": 3, "entries": [{**entry, "path": f"x\\x{j:02x}"} for j in range(3)]}
        made.append(record)
    return [report.as_record(r) for r in made]


def build(size: int, run_id: str, history: list[report.KeptRun]) -> report.Report:
    return report.build(
        records(size),
        run_id=run_id,
        started="2026-11-26T02:00:00Z",
        ended="2026-11-26T02:05:00Z",
        options={"mode": "report"},
        history=history,
    )


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def measure(size: int, history_runs: int) -> list[tuple[str, str, str, str]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    try:
        for run in range(history_runs):  # the earlier runs, kept as the role keeps them
            document = build(size, f"run{run:03d}", [])
            document["started"] = f"2026-{9 + run // 28:02d}-{1 + run % 28:02d}T02:00:00Z"
            report.write(document, folder, [], history_runs=history_runs + 1)
        history_bytes = sum(p.stat().st_size for p in (folder / "history").iterdir())
        t_history, history = timed(lambda: report.load_history(folder, history_runs))
        t_build, document = timed(lambda: build(size, "now", history))
        t_validate, problems = timed(lambda: report.validate(document))
        assert problems == [], problems[:3]
        t_baseline, _dumped = timed(lambda: json.dumps(document))
        t_json, _json = timed(lambda: report.renderers()["json"][1](document))
        t_html, page = timed(lambda: report_html.render(document))
        t_junit, _xml = timed(lambda: report_junit.render(document))
        t_write, _written = timed(lambda: report.write(document, folder, ["json", "html", "junit"], history_runs=history_runs + 1))
    finally:
        shutil.rmtree(folder)
    formats = t_json + t_html + t_junit
    base = f"{t_baseline:.2f} s"
    label = f"{size} hosts"
    kept = f"{label}: load {history_runs} kept runs ({history_bytes / 1e6:.1f} MB)"
    return [
        (kept, f"{t_history:.2f} s", base, f"{t_history / t_baseline:.1f}x"),
        (f"{label}: build (grading, drift, why)", f"{t_build:.2f} s", base, f"{t_build / t_baseline:.1f}x"),
        (f"{label}: validate against schemas/report.json", f"{t_validate:.2f} s", base, f"{t_validate / t_baseline:.1f}x"),
        (f"{label}: JSON", f"{t_json:.2f} s", base, f"{t_json / t_baseline:.1f}x"),
        (f"{label}: HTML ({len(page) / 1e6:.1f} MB)", f"{t_html:.2f} s", base, f"{t_html / t_baseline:.1f}x"),
        (f"{label}: JUnit", f"{t_junit:.2f} s", base, f"{t_junit / t_baseline:.1f}x"),
        (f"{label}: the three formats", f"{formats:.2f} s", base, f"{formats / t_baseline:.1f}x (< 2 s: {'yes' if formats < 2 else 'NO'})"),
        (f"{label}: report.write (formats + history copy)", f"{t_write:.2f} s", base, f"{t_write / t_baseline:.1f}x"),
        (
            f"{label}: all of defs_report's work",
            f"{t_history + t_build + t_validate + t_write:.2f} s",
            base,
            f"{(t_history + t_build + t_validate + t_write) / t_baseline:.1f}x",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200,1000", help="comma-separated fleet sizes (default 200,1000)")
    parser.add_argument("--history", type=int, default=report.DEFAULT_HISTORY_RUNS - 1, help="earlier runs kept (default 59)")
    args = parser.parse_args()
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        rows += measure(size, args.history)
    table("Writing the fleet report (baseline: json.dumps of the same document)", rows)


if __name__ == "__main__":
    main()
