"""usage.dat on lab hosts: a stale entry stops the lab's product, is drift in report mode, and enforce repairs it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product

from .runner import playbook

pytestmark = pytest.mark.integration
VERSIONS = lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)


def role(name: str, inventory: Path, tmp: Path, **extra: Any) -> dict[str, dict[str, Any]]:
    reports = tmp / name / "reports"
    run = playbook(f"mailsec.smsmse.{name}", inventory, tmp / name, extra={"defs_health_report_dir": str(reports), **extra})
    hosts = {h["name"]: h for h in json.loads((reports / "defs-health.json").read_text())["hosts"]}
    assert hosts, run.output[-3000:]
    return hosts


def check(host: dict[str, Any], check_id: str) -> dict[str, Any]:
    return next(c for c in host["checks"] if c["id"] == check_id)


def test_a_stale_entry_stops_the_product_is_drift_and_enforce_repairs_it(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("stale", version="8.0.1", faults=["stale_usage"]))
    spec = lab_product.read_hosts(inventory)["stale"]
    hawking = Path(spec.stores["hawking"])
    missing = lab.missing_usage_set(VERSIONS)
    assert lab_product.Emulator(spec).cycle() == "usage_missing"  # the product cannot start: event 401

    reported = role("report", inventory, tmp_path)["stale"]
    assert reported["status"] == "drift"
    stale = check(reported, "usage_sets_present")
    assert stale["status"] == "fail" and stale["severity"] == "high"
    assert stale["actual"] == [f"hawking: {lab.SMSMSE_CODE} -> {missing} (missing)"]
    assert check(reported, "no_failure_events")["actual"] == [401]
    assert lab.read_usage(hawking)[missing] == [lab.SMSMSE_CODE]  # report mode changed nothing

    enforced = role("enforce", inventory, tmp_path)["stale"]
    assert [a["action"] for a in enforced["actions"]] == ["repair_usage"], enforced
    assert check(enforced, "usage_sets_present")["status"] == "fixed"
    assert lab.read_usage(hawking) == {VERSIONS[0]: [lab.OTHER_CODE], VERSIONS[-1]: [lab.SMSMSE_CODE]}
    assert lab_product.Emulator(spec).cycle() != "usage_missing"  # the product starts again
    again = role("report", inventory, tmp_path)["stale"]
    assert check(again, "usage_sets_present")["status"] == "pass"


def test_enforce_quarantines_a_bad_newest_hawking_set_and_moves_smsmse_with_it(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(
        lab.LabHost("asked", faults=["usage_dat", "missing_marker"]), lab.LabHost("shared", faults=["usage_dat", "missing_marker"])
    )
    reported = role("report", inventory, tmp_path)
    for name in ("asked", "shared"):
        assert check(reported[name], "usage_sets_present")["actual"] == [f"hawking: {lab.SMSMSE_CODE} -> {VERSIONS[-1]} (bad)"]

    diff = playbook(
        "mailsec.smsmse.enforce", inventory, tmp_path / "check", "--check", "--diff", extra={"defs_health_report_dir": str(tmp_path / "r")}
    )
    assert diff.returncode == 0, diff.output[-3000:]
    assert lab.read_usage(lab_product.read_hosts(inventory)["asked"].source().parent / "hawking")[VERSIONS[-1]] == [lab.SMSMSE_CODE]

    role("enforce", inventory, tmp_path, smsmse_hosts="asked", defs_health_repair_hawking=True)
    role("enforce", inventory, tmp_path, smsmse_hosts="shared")
    for name, quarantined in (("asked", True), ("shared", False)):
        hawking = Path(lab_product.read_hosts(inventory)[name].stores["hawking"])
        used = lab.read_usage(hawking)
        assert used == {VERSIONS[0]: [lab.OTHER_CODE], VERSIONS[-2]: [lab.SMSMSE_CODE]}, name  # every code kept, SMSMSE moved
        assert all((hawking / version).is_dir() for version in used), name  # no section names a set that is not there
        assert (hawking / VERSIONS[0]).is_dir(), name  # the other product's set is not retired
        assert (hawking / VERSIONS[-1]).exists() is not quarantined, name
    after = role("report", inventory, tmp_path)
    assert check(after["asked"], "usage_sets_present")["status"] == "pass"
    assert check(after["shared"], "usage_sets_present")["status"] == "pass"
