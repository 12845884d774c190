"""Report history is untrusted input (issue 21): each kept run read through its schema, bad files skipped and named,
runs dated after the current one ignored, and the three formats written together or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_files

from .test_report import ENDED, STARTED, build, check, record

FORMATS = ["json", "html", "junit"]


def keep(tmp_path: Path, run_id: str, started: str, status: str = "drift") -> report.Report:
    built = report.build(
        [record("a", status, [check("csapi_newest", "fail" if status == "drift" else "pass")])],
        run_id=run_id,
        started=started,
        ended=started,
        options={},
        history=[],
    )
    report.write(built, tmp_path, ["json"])
    return built


def test_a_wrongly_typed_kept_run_is_skipped_with_a_warning_naming_it(tmp_path: Path) -> None:
    keep(tmp_path, "good", "2026-11-25T02:00:00Z")
    bad = tmp_path / "history" / "defs-health-bad.json"
    document = json.loads((tmp_path / "history" / "defs-health-good.json").read_text())
    bad.write_text(
        json.dumps({**document, "run_id": "bad", "started": "2026-11-24T02:00:00Z", "summary": {**document["summary"], "counts": "many"}})
    )
    history = report.read_history(tmp_path, 10, before=STARTED)
    assert [r["run_id"] for r in history.runs] == ["good"]
    assert len(history.warnings) == 1 and str(bad) in history.warnings[0]
    built = build([record("a", "drift", [check("csapi_newest", "fail")])], history=history.runs)
    report.write(built, tmp_path, FORMATS)  # the report is written whole: no "'str' object has no attribute 'get'"
    assert built["hosts"][0]["drift_runs"] == 2


@pytest.mark.parametrize("started", ["2099-01-01T00:00:00Z", "2026-11-26T02:00:01Z"])
def test_runs_dated_after_the_current_run_are_ignored(tmp_path: Path, started: str) -> None:
    keep(tmp_path, "earlier", "2026-11-25T02:00:00Z")
    keep(tmp_path, "future", started, status="compliant")  # would reset the drift count
    history = report.read_history(tmp_path, 10, before=STARTED)
    assert [r["run_id"] for r in history.runs] == ["earlier"]
    assert any("future" in w and "after this run" in w for w in history.warnings)
    built = build([record("a", "drift", [check("csapi_newest", "fail")])], history=history.runs)
    assert built["hosts"][0]["drift_runs"] == 2


@pytest.mark.parametrize("bad_value", [{"started": "yesterday"}, {"hosts": [{"name": 1, "status": "drift"}]}, {"schema": "other"}])
def test_each_field_of_a_kept_run_is_checked(tmp_path: Path, bad_value: dict[str, Any]) -> None:
    kept = keep(tmp_path, "r0", "2026-11-25T02:00:00Z")
    path = tmp_path / "history" / "defs-health-r0.json"
    path.write_text(json.dumps({**report.kept_run(kept), **bad_value}))
    history = report.read_history(tmp_path, 10, before=STARTED)
    assert history.runs == [] and str(path) in history.warnings[0]


def test_the_formats_are_written_together_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build([record("a", "drift", [check("csapi_newest", "fail")])])
    report.write(first, tmp_path, FORMATS)
    before = {name: (tmp_path / name).read_bytes() for name in ("defs-health.json", "defs-health.html", "defs-health.junit.xml")}
    second = build([record("b", "compliant")])
    table = report.renderers()

    def broken(_report: Any) -> str:
        raise ValueError("the template failed")

    monkeypatch.setattr(report_files, "renderers", lambda: {**table, "junit": (table["junit"][0], broken)})
    with pytest.raises(ValueError):
        report.write(second, tmp_path, FORMATS)
    assert {name: (tmp_path / name).read_bytes() for name in before} == before, "no format moved on alone"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".defs-health-")], "no temporary file is left"
    assert ENDED
