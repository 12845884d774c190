"""The shipped playbooks' exit status tells the truth: a host that cannot be reached, or that enforce leaves drifting, fails the run."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook

pytestmark = pytest.mark.integration


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_winrm_host(inventory: Path, name: str) -> None:
    """Add a Windows host whose WinRM port on the loopback address is closed."""
    data = json.loads(inventory.read_text())
    data["all"]["children"]["smsmse_lab"]["hosts"][name] = {
        "ansible_connection": "winrm",
        "ansible_host": "127.0.0.1",
        "ansible_port": closed_port(),
        "ansible_user": "admin",
        "ansible_password": "not-a-secret",
        "ansible_winrm_transport": "ntlm",
        "ansible_winrm_scheme": "http",
        "ansible_winrm_operation_timeout_sec": 2,
        "ansible_winrm_read_timeout_sec": 3,
    }
    inventory.write_text(json.dumps(data))


def recap(run: Run) -> dict[str, str]:
    return {line.split()[0]: line for line in run.output.splitlines() if " : ok=" in line}


def reported(tmp: Path) -> dict[str, dict[str, Any]]:
    document = json.loads((tmp / "reports" / "defs-health.json").read_text())
    return {h["name"]: h for h in document["hosts"]}


@pytest.mark.parametrize("name", ["report", "enforce"])
def test_an_unreachable_winrm_host_fails_the_shipped_playbook(name: str, tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("mail01")])
    with_winrm_host(inventory, "gone")
    run = playbook(f"mailsec.smsmse.{name}", inventory, tmp_path / "run", extra={"defs_health_report_dir": str(tmp_path / "reports")})
    assert run.returncode != 0, run.output[-3000:]
    hosts = reported(tmp_path)
    assert hosts["gone"]["status"] == "unreachable" and hosts["mail01"]["status"] == "compliant"
    lines = recap(run)
    assert "failed=1" in lines["gone"] or "unreachable=1" in lines["gone"], lines["gone"]
    assert "ignored=0" in lines["gone"] or "failed=1" in lines["gone"], lines["gone"]
    assert "failed=0" in lines["mail01"] and "unreachable=0" in lines["mail01"]
    assert json.dumps("gone could not be reached: ")[:-1] in run.output


def test_defs_health_fail_on_never_keeps_an_unreachable_host_out_of_the_exit_status(tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("mail01")])
    with_winrm_host(inventory, "gone")
    extra = {"defs_health_report_dir": str(tmp_path / "reports"), "defs_health_fail_on": "never"}
    run = playbook("mailsec.smsmse.report", inventory, tmp_path / "run", extra=extra)
    assert run.returncode == 0, run.output[-3000:]
    assert reported(tmp_path)["gone"]["status"] == "unreachable"


def test_enforce_with_the_production_defaults_fails_a_host_it_leaves_drifting(tmp_path: Path) -> None:
    """The plain Hawking store's bad newest set stays without defs_health_repair_hawking: the host fails, naming that option.

    No catalog, fleet consensus on (the defaults): three sound hosts outvote mail09's changed Hawking copies.
    """
    healthy = [lab.LabHost(f"mail0{i}") for i in (1, 2, 3)]
    inventory = lab.build_lab(tmp_path / "lab", [*healthy, lab.LabHost("mail09", faults=["corrupt_newest"])])
    run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / "run", extra={"defs_health_report_dir": str(tmp_path / "reports")})
    assert run.returncode == 2, run.output[-3000:]
    hosts = reported(tmp_path)
    assert hosts["mail09"]["status"] == "drift" and hosts["mail01"]["status"] == "compliant"
    assert [a["action"] for a in hosts["mail09"]["actions"]] == ["repair_source"]  # SMSMSE Hawking: the product's own store
    lines = recap(run)
    assert "failed=1" in lines["mail09"] and "failed=0" in lines["mail01"]
    failure = next(line for line in run.output.splitlines() if line.startswith("fatal: [mail09]"))
    assert "fatal: [mail01]" not in run.output
    message = run.output.split(failure, 1)[1][:3000]
    assert "still drifts after enforce" in message and "hawking_newest_good" in message
    assert "defs_health_repair_hawking" in message


def test_report_mode_leaves_drift_to_defs_health_fail_on(tmp_path: Path) -> None:
    """Report mode changes nothing, so drift alone does not fail it by default (defs_health_fail_on: drift does)."""
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("mail09", faults=["corrupt_newest"])])
    run = playbook("mailsec.smsmse.report", inventory, tmp_path / "run", extra={"defs_health_report_dir": str(tmp_path / "reports")})
    assert run.returncode == 0, run.output[-3000:]
    assert reported(tmp_path)["mail09"]["status"] == "drift"
