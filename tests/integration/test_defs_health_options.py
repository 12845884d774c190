"""Controller-side mistakes stop the role once, before any host is contacted, naming the role variable; the last report stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .runner import Run, playbook

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's lab (keys, catalog, 20 hosts), reported once: the last good report."""
    root = tmp_path_factory.mktemp("fleet")
    built = playbook("mailsec.smsmse.lab", Path("localhost,"), root / "build", extra={"lab_dir": str(root / "lab"), "lab_hosts": 6})
    assert built.returncode == 0, built.output[-3000:]
    inventory = root / "lab" / "inventory.yml"
    first = playbook("mailsec.smsmse.report", inventory, root / "first")
    assert (root / "lab" / "reports" / "defs-health.json").exists(), first.output[-3000:]
    return inventory


def reports(inventory: Path) -> dict[str, bytes]:
    folder = inventory.parent / "reports"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def stopped_once(run: Run, code: str, variable: str) -> str:
    """The run failed with one error of ``code`` naming ``variable``, before any agent call; that error's text."""
    assert run.returncode != 0, run.output[-3000:]
    assert run.agent_calls() == 0, run.output[-3000:]
    failures = [line for line in run.output.splitlines() if line.startswith("fatal: [")]
    assert len(failures) == 1, failures
    message = run.output.split(failures[0], 1)[1][:2000]
    assert f'"msg": "{code}: ' in message and variable in message, message
    assert run.output.count(f"{code}: ") <= 2, run.output.count(f"{code}: ")  # the fatal line and its msg: once
    return message


@pytest.mark.parametrize(
    ("extra", "code", "variable"),
    [
        ({"defs_health_catalog": "{{ lab_dir }}/trust/catalgo.json"}, "CATALOG_INVALID", "defs_health_catalog"),
        ({"defs_health_keep": 0}, "OPTION_INVALID", "`defs_health_keep` is 0: set it to a whole number from 1 to 1000."),
        ({"defs_health_trusted_keys": []}, "OPTION_INVALID", "`defs_health_trusted_keys` is empty"),
        ({"defs_health_consensus_threshold": 1.0}, "OPTION_INVALID", "`defs_health_consensus_threshold` is 1.0"),
        ({"defs_health_report_dir": "{{ lab_dir }}/inventory.yml/reports"}, "OPTION_INVALID", "`defs_health_report_dir`"),
    ],
)
@pytest.mark.parametrize("name", ["report", "enforce"])
def test_a_controller_side_mistake_stops_the_run_once_and_keeps_the_last_report(
    fleet: Path, tmp_path: Path, name: str, extra: dict[str, Any], code: str, variable: str
) -> None:
    before = reports(fleet)
    values = {k: v.replace("{{ lab_dir }}", str(fleet.parent)) if isinstance(v, str) else v for k, v in extra.items()}
    run = playbook(f"mailsec.smsmse.{name}", fleet, tmp_path, extra=values)
    stopped_once(run, code, variable)
    assert reports(fleet) == before
    assert json.loads(before["defs-health.json"])["summary"]["hosts"] == 6
