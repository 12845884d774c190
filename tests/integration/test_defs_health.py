"""The defs_health role on a lab fleet: report, enforce, idempotency, unreachable hosts, the reports."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report

from .runner import COLLECTIONS, Run, playbook

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.timezone.utc).date()
VERSIONS = lab.set_versions(TODAY, 3)
LU = lab.liveupdate_version(TODAY)
WINDOWS_EVERY = 4


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's 20-host lab, with keys and a catalog, plus one host that cannot be reached.

    Every 4th host is served by the Windows agent's engine under Mono (where Mono is installed), as in
    ``make demo``: each test below expects the same of a host whichever agent serves it.
    """
    root = tmp_path_factory.mktemp("fleet")
    extra = {"lab_dir": str(root / "lab"), "lab_windows_every": 0 if lab.mono_missing() else WINDOWS_EVERY}
    built = playbook("mailsec.smsmse.lab", Path("localhost,"), root / "build", extra=extra)
    assert built.returncode == 0, built.output[-3000:]
    inventory = root / "lab" / "inventory.yml"
    data = json.loads(inventory.read_text())
    data["all"]["children"]["smsmse_lab"]["hosts"]["gone"] = {
        "ansible_connection": "ssh",
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_ssh_timeout": 2,
        "smsmse_defs_stores": {"csapi": "/nowhere/csapi"},
    }
    inventory.write_text(json.dumps(data))
    return inventory


def role_run(inventory: Path, tmp: Path, name: str, *args: str, extra: dict[str, Any] | None = None) -> tuple[Run, dict[str, Any]]:
    run = playbook(f"mailsec.smsmse.{name}", inventory, tmp, *args, extra=extra)
    reported = json.loads((inventory.parent / "reports" / "defs-health.json").read_text())
    return run, reported


def by_name(reported: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in reported["hosts"]}


def recap(run: Run) -> dict[str, str]:
    return {line.split()[0]: line for line in run.output.splitlines() if " : ok=" in line}


def failing(host: dict[str, Any]) -> list[str]:
    return sorted(c["id"] for c in host["checks"] if c["status"] in ("fail", "error"))


def test_nightly_job_goes_red_on_drift(fleet: Path, tmp_path: Path) -> None:
    run, reported = role_run(fleet, tmp_path, "report", extra={"defs_health_fail_on": "drift"})
    assert run.returncode == 2, run.output[-3000:]
    states = by_name(reported)
    red = sorted(h for h, r in states.items() if r["status"] not in ("compliant", "fixed"))
    assert sorted(h for h, line in recap(run).items() if "failed=1" in line) == red
    assert "gone" in red and "mail09" in red and "mail01" not in red
    policy = "defs_health_fail_on is 'drift': every host that is not compliant or fixed fails the run."
    for name in (h for h in red if states[h]["status"] == "drift"):
        bad = sorted(
            (c for c in states[name]["checks"] if c["status"] in ("fail", "error") and c["severity"] != "low"),
            key=lambda c: ["critical", "high", "medium"].index(c["severity"]),
        )
        message = f"{name} drifts: {', '.join(c['id'] for c in bad)} failing ({bad[0]['remediation']}). {policy}"
        assert json.dumps(message) in run.output, message
    assert json.dumps("gone could not be reached: ")[:-1] in run.output
    # the fleet table, and one line per host that is not compliant, come from the role itself
    assert "host    status" in run.output or "host     status" in run.output
    lines = [line.strip().strip('",') for line in run.output.splitlines()]
    assert any(line.startswith("drift       mail09  failing ") for line in lines)
    # set_stats: run id, report paths, host names per status
    assert f'"run_id": "{reported["run_id"]}"' in run.output
    assert f'"json": "{fleet.parent / "reports" / "defs-health.json"}"' in run.output
    assert f'"report_dir": "{fleet.parent / "reports"}"' in run.output


def test_report_then_enforce_then_again(fleet: Path, tmp_path: Path) -> None:
    hosts = fleet.parent / "hosts"
    before = {p: p.read_bytes() for p in hosts.rglob("*") if p.is_file() and "events" not in p.name}

    # report mode changes nothing and finds every scenario
    run, reported = role_run(fleet, tmp_path / "report", "report")
    # report mode: drift is reported, not fatal; the host that cannot be reached fails the run
    assert run.returncode == 2, run.output[-3000:]
    assert sorted(h for h, line in recap(run).items() if "failed=1" in line) == ["gone"]
    assert {p: p.read_bytes() for p in hosts.rglob("*") if p.is_file() and "events" not in p.name} == before
    assert report.validate(reported) == []
    states = by_name(reported)
    assert states["gone"]["status"] == "unreachable" and states["gone"]["checks"] == []
    # mail19 fails only product_verifies, a low-severity check: compliant unless defs_health_fail_severities counts low
    assert [h for h, r in states.items() if r["status"] == "compliant"] == ["mail01", "mail02", "mail03", "mail04", "mail05", "mail19"]
    assert states["mail06"]["actions"] == [
        {
            "action": "promote",
            "result": "planned",
            "version": VERSIONS[-1],
            "previous": None,
            "message": f"newer good set {VERSIONS[-1]} in smsmse_hawking",
        }
    ]
    assert failing(states["mail06"]) == ["csapi_newest"]
    assert failing(states["mail09"]) == ["hawking_newest_good", "pointers_consistent", "trust_agreement"]
    assert states["mail09"]["actions"][0]["action"] == "repair_source"  # a bad newest source set, planned away
    assert states["mail11"]["actions"][0]["action"] == "promote"
    assert states["mail13"]["actions"][0]["action"] == "liveupdate"
    assert failing(states["mail19"]) == ["product_verifies"]
    assert reported["summary"]["counts"] == {"compliant": 6, "fixed": 0, "drift": 14, "failed": 0, "unreachable": 1}
    for host in ("mail01", "mail06"):
        assert run.agent_calls(host) == 1, host

    # enforce fixes what it can, with one more agent call per fixed host
    run, reported = role_run(fleet, tmp_path / "enforce", "enforce")
    states = by_name(reported)
    assert reported["summary"]["counts"] == {"compliant": 6, "fixed": 13, "drift": 0, "failed": 1, "unreachable": 1}
    assert run.agent_calls("mail01") == 1
    assert run.agent_calls("mail06") == 2 and run.agent_calls("mail11") == 2 and run.agent_calls("mail09") == 2
    assert run.agent_calls("mail13") == 4  # verify, LiveUpdate, verify, apply
    assert states["mail06"]["status"] == "fixed"
    assert [c["status"] for c in states["mail06"]["checks"] if c["id"] == "csapi_newest"] == ["fixed"]
    assert states["mail06"]["versions"]["csapi_active"] == VERSIONS[-1]
    # the bad active copy was replaced in place by the good one: the folder CSAPI names holds the true bytes
    assert states["mail11"]["status"] == "fixed" and states["mail11"]["versions"]["csapi_active"] == VERSIONS[-1]
    csapi11 = fleet.parent / "hosts" / "mail11" / "csapi" / VERSIONS[-1]
    assert (csapi11 / "virscan1.dat").read_bytes() == lab.file_bytes(VERSIONS[-1], "virscan1.dat", lab.DEFAULT_FILES[0][1])
    # the bad newest source sets the product would copy next are in quarantine, the stores point at good sets
    for store in ("hawking", "smsmse_hawking"):
        assert not (fleet.parent / "hosts" / "mail09" / store / VERSIONS[-1]).exists(), store
    assert states["mail09"]["status"] == "fixed" and [a["action"] for a in states["mail09"]["actions"]] == [
        "repair_source",
        "repair_source",
    ]
    assert [a["action"] for a in states["mail13"]["actions"]] == ["liveupdate", "promote"]
    assert states["mail13"]["versions"]["csapi_active"] == LU
    assert states["mail15"]["status"] == "failed"
    assert states["mail15"]["message"].startswith("LIVEUPDATE_FAILED: LiveUpdate exited with code 1: LiveUpdate: could not connect")
    assert "No valid virus definitions are available to the scanner (the product's event 401)" in states["mail15"]["message"]
    assert "fatal: [mail15]: FAILED!" in run.output
    assert states["mail18"]["status"] == "fixed"  # malformed definfo.dat rewritten
    assert states["mail19"]["status"] == "compliant" and failing(states["mail19"]) == [
        "product_verifies"
    ]  # low severity: counts when asked
    assert states["mail20"]["versions"]["csapi_active"] == LU  # empty stores filled by LiveUpdate
    assert "defs_health enforce: 21 hosts, 6 compliant, 13 fixed, 0 drift, 1 failed, 1 unreachable" in run.output
    for host in ("mail06", "mail11", "mail13", "mail18", "mail20"):
        assert lab_active(fleet, host) == states[host]["versions"]["csapi_active"], host

    # a second enforce run changes nothing anywhere
    run, reported = role_run(fleet, tmp_path / "again", "enforce")
    counts = recap(run)
    assert all("changed=0" in line for line in counts.values()), [line for line in counts.values() if "changed=0" not in line]
    assert reported["summary"]["counts"] == {"compliant": 19, "fixed": 0, "drift": 0, "failed": 1, "unreachable": 1}


def lab_active(inventory: Path, host: str) -> str:
    text = (inventory.parent / "hosts" / host / "csapi" / "definfo.dat").read_text()
    return next(line.split("=", 1)[1].strip() for line in text.splitlines() if line.startswith("CurDefs="))


def test_check_mode_is_report_mode(fleet: Path, tmp_path: Path) -> None:
    hosts = fleet.parent / "hosts"
    before = {p: p.read_bytes() for p in hosts.rglob("*") if p.is_file() and "events" not in p.name}
    _run, reported = role_run(fleet, tmp_path, "enforce", "--check")
    assert reported["options"]["mode"] == "report"
    assert {p: p.read_bytes() for p in hosts.rglob("*") if p.is_file() and "events" not in p.name} == before
    assert all(a["result"] == "planned" for h in reported["hosts"] for a in h["actions"])


def test_junit_and_html(fleet: Path, tmp_path: Path) -> None:
    role_run(fleet, tmp_path, "report")
    reports = fleet.parent / "reports"
    tree = ET.parse(reports / "defs-health.junit.xml")
    suites = tree.getroot().findall("testsuite")
    assert len(suites) == 21
    for suite in suites:
        assert all(case.get("classname") == suite.get("name") for case in suite.findall("testcase"))
    gone = next(s for s in suites if s.get("name") == "gone")
    assert gone.find("testcase/error") is not None
    html = (reports / "defs-health.html").read_text()
    assert "<script src" not in html and "http" not in html.split("<body>", 1)[1].replace("http-equiv", "")
    assert html.count('<tr class="host"') == 21
    assert len(list((reports / "history").glob("defs-health-*.json"))) >= 1
    assert (COLLECTIONS / "ansible_collections" / "mailsec" / "smsmse" / "schemas" / "report.json").exists()


def test_one_host_failing_oddly_does_not_cost_the_fleet_its_report(tmp_path: Path) -> None:
    """A host whose change is too large for one request, and one whose task cannot even be templated: the others are reported."""
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("ok"), lab.LabHost("stale", faults=["stale_csapi"]), lab.LabHost("old")])
    old = tmp_path / "lab" / "hosts" / "old" / "csapi"
    for day in range(250):
        lab.write_set(old, f"{TODAY - dt.timedelta(days=400 + day):%Y%m%d}.001")
    lab.write_definfo(old, VERSIONS[-2])
    data = json.loads(inventory.read_text())
    hosts = data["all"]["children"]["smsmse_lab"]["hosts"]
    hosts["stale"]["smsmse_defs_liveupdate_command"] = "{{ smsmse_no_such_variable }}"
    inventory.write_text(json.dumps(data))
    reports = tmp_path / "reports"
    run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / "run", extra={"defs_health_report_dir": str(reports)})
    reported = by_name(json.loads((reports / "defs-health.json").read_text()))
    assert sorted(reported) == ["ok", "old", "stale"], run.output[-3000:]
    assert reported["ok"]["status"] == "compliant"
    assert reported["old"]["status"] == "failed" and reported["old"]["message"].startswith("CHANGE_TOO_LARGE: The change needs ")
    # the task failed before its action ran (templating): the report made its record from the task's message
    assert reported["stale"]["status"] == "failed" and "'smsmse_no_such_variable' is undefined" in reported["stale"]["message"]
    assert (reports / "defs-health.html").exists() and (reports / "defs-health.junit.xml").exists()
    assert "fatal: [old]: FAILED!" in run.output and "fatal: [ok]" not in run.output


def test_the_fleet_is_served_by_both_agents(fleet: Path, tmp_path: Path) -> None:
    missing = lab.mono_missing()
    if missing:
        pytest.skip(missing)
    hosts = json.loads(fleet.read_text())["all"]["children"]["smsmse_lab"]["hosts"]
    windows = sorted(name for name, variables in hosts.items() if variables.get("smsmse_defs_lab_agent") == "windows")
    assert windows == ["mail04", "mail08", "mail12", "mail16", "mail20"]
    facts = playbook("mailsec.smsmse.facts", fleet, tmp_path, "--limit", "mail01,mail04")
    served = {name: result["ansible_facts"]["smsmse_defs"]["agent"]["name"] for name, result in facts.results.items()}
    assert served == {"mail01": "defs_agent_posix", "mail04": "defs_agent_win"}
