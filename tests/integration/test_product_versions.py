"""Today's SMSMSE versions in the lab: 7.x and 8.x verify with the 6.5.x event IDs, older ones do not verify."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import playbook

pytestmark = pytest.mark.integration


def test_report_mode_knows_every_version(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(
        lab.LabHost("v75", version="7.5.2.41", events=(401,)),
        lab.LabHost("v80", version="8.0.1.105"),
        lab.LabHost("v650", version="6.5.0"),
        lab.LabHost("v6011", version="6.0.11"),
        lab.LabHost("v6012", version="6.0.12"),
        lab.LabHost("v5", version="5.0.10", events=(401,)),
    )
    run = playbook("mailsec.smsmse.report", inventory, tmp_path, extra={"defs_health_report_dir": str(tmp_path / "reports")})
    reported = {h["name"]: h for h in json.loads((tmp_path / "reports" / "defs-health.json").read_text())["hosts"]}
    assert sorted(reported) == ["v5", "v6011", "v6012", "v650", "v75", "v80"], run.output[-3000:]

    def check(host: str, check_id: str) -> dict[str, object]:
        return next(c for c in reported[host]["checks"] if c["id"] == check_id)

    assert reported["v80"]["status"] == "compliant"
    assert check("v80", "product_verifies")["status"] == "pass"
    assert reported["v80"]["versions"]["scheme"] == "6.5"
    # a scanner that failed to initialize an hour ago is not compliant on 7.5
    assert reported["v75"]["status"] == "drift"
    assert check("v75", "no_failure_events")["status"] == "fail" and check("v75", "no_failure_events")["actual"] == [401]
    for host in ("v650", "v6011", "v5"):
        assert check(host, "product_verifies")["status"] == "fail", host
    assert check("v6012", "product_verifies")["status"] == "pass"
    assert check("v5", "no_failure_events")["status"] == "skipped"
    assert "names no event IDs for SMSMSE 5.x" in str(check("v5", "no_failure_events")["detail"])


def test_facts_of_7_and_8_say_what_is_inferred(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("v79", version="7.9.2"), lab.LabHost("v5", version="5.0.10"))
    run = playbook("mailsec.smsmse.facts", inventory, tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    v79 = run.results["v79"]["ansible_facts"]["smsmse_defs"]["product"]
    assert (v79["self_verifies"], v79["event_ids"]) == (True, {"rollback": 399, "no_valid": 400, "init_failed": 401})
    assert v79["basis"] == {"event_ids": "inferred", "self_verifies": "vendor"}
    v5 = run.results["v5"]["ansible_facts"]["smsmse_defs"]["product"]
    assert (v5["self_verifies"], v5["event_ids"], v5["scheme"]) == (False, None, "none")
