"""The role against hostile hosts and a hostile report folder (issue 21), through ansible-playbook.

One enforce run over a lab where one host holds a set dated in the future, one host's CSAPI store is
given as its SMSMSE Hawking folder, and the report folder holds a damaged kept run and one dated 2099.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import playbook

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.timezone.utc).date()
FUTURE = (TODAY + dt.timedelta(days=30)).strftime("%Y%m%d") + ".001"


def test_future_sets_overlapping_stores_and_planted_history_cost_only_their_own(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    reports = lab_dir / "reports"
    hosts = [lab.LabHost("future"), lab.LabHost("overlap", faults=["stale_csapi"]), lab.LabHost("drifting", faults=["stale_csapi"])]
    inventory = lab.build_lab(lab_dir, hosts, group_vars={"defs_health_report_dir": str(reports)})
    lab.write_set(lab_dir / "hosts" / "future" / "smsmse_hawking", FUTURE)
    data = json.loads(inventory.read_text())
    overlap = data["all"]["children"]["smsmse_lab"]["hosts"]["overlap"]
    source = overlap["smsmse_defs_stores"]["smsmse_hawking"]
    overlap["smsmse_defs_stores"] = {**overlap["smsmse_defs_stores"], "csapi": f"{source}/."}
    inventory.write_text(json.dumps(data))
    source_sets = sorted(p.name for p in Path(source).iterdir())

    first = playbook("mailsec.smsmse.report", inventory, tmp_path / "first")  # a first run, kept in the history
    assert json.loads((reports / "defs-health.json").read_text())["hosts"], first.output[-3000:]
    kept = sorted((reports / "history").glob("defs-health-*.json"))
    assert len(kept) == 1
    document = json.loads(kept[0].read_text())
    damaged = reports / "history" / "defs-health-damaged.json"
    damaged.write_text(json.dumps({**document, "run_id": "damaged", "summary": {**document["summary"], "counts": "many"}}))
    planted = reports / "history" / "defs-health-planted.json"
    hosts_ok = [{"name": h["name"], "status": "compliant"} for h in document["hosts"]]
    planted.write_text(json.dumps({**document, "run_id": "planted", "started": "2099-01-01T00:00:00Z", "hosts": hosts_ok}))

    run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / "enforce")
    reported = {h["name"]: h for h in json.loads((reports / "defs-health.json").read_text())["hosts"]}
    assert set(reported) == {"future", "overlap", "drifting"}, run.output[-3000:]
    for name in ("defs-health.html", "defs-health.junit.xml"):
        assert (reports / name).stat().st_mtime >= (reports / "defs-health.json").stat().st_mtime - 5
    assert str(damaged) in run.output and str(planted) in run.output, "each skipped kept run is named"

    future = reported["future"]
    assert "unexpectedly" not in future["message"] and future["status"] != "failed", future["message"]
    assert FUTURE not in {p.name for p in (lab_dir / "hosts" / "future" / "smsmse_hawking").iterdir()}
    assert any(a["action"] == "repair_source" and FUTURE in a["message"] for a in future["actions"]), future["actions"]

    refused = reported["overlap"]
    assert refused["status"] == "failed" and "OPTION_INVALID" in refused["message"], refused["message"]
    assert "smsmse_hawking (" in refused["message"] and "csapi (" in refused["message"]
    assert sorted(p.name for p in Path(source).iterdir()) == source_sets, "nothing changed in the store given twice"
    assert refused["drift_runs"] == 2, "the run planted as dated 2099 (all compliant) does not reset the drift count"

    assert reported["drifting"]["status"] == "fixed", reported["drifting"]["message"]
