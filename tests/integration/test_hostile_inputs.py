"""Hostile inputs through ansible-playbook: a name that is not UTF-8 never fails the host; a FIFO never stalls the fleet."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product

from .runner import playbook

pytestmark = pytest.mark.integration
PLAYBOOK = str(Path(__file__).parent / "playbooks" / "change.yml")
TODAY = dt.datetime.now(dt.timezone.utc).date()
VERSIONS = lab.set_versions(TODAY, 3)


def plant(folder: Path, name: bytes = b"\xff\xfe.dat") -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(b"x" * 10)


def test_a_name_that_is_not_utf8_never_fails_the_host(tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("stale", faults=["stale_csapi"]), lab.LabHost("named")])
    hosts = tmp_path / "lab" / "hosts"
    plant(hosts / "stale" / "csapi" / VERSIONS[0])  # in the active set that promote replaces
    plant(hosts / "stale" / "hawking")  # at the top of a store
    plant(hosts / "named" / "csapi" / VERSIONS[-1])  # in the active set: a bad set, to roll back from

    extra = {"lab_dir": str(tmp_path / "lab")}
    promoted = playbook(PLAYBOOK, inventory, tmp_path / "promote", "--limit", "stale", extra={**extra, "change": "promote"})
    result = promoted.results["stale"]
    assert result["changed"] is True and not result.get("failed"), result
    assert lab_product.active(hosts / "stale" / "csapi") == VERSIONS[-1]

    rolled = playbook(PLAYBOOK, inventory, tmp_path / "rollback", "--limit", "named", extra={**extra, "change": "rollback"})
    result = rolled.results["named"]
    assert result["changed"] is True and not result.get("failed"), result
    assert (result["previous"], result["version"]) == (VERSIONS[-1], VERSIONS[-2])
    assert lab_product.active(hosts / "named" / "csapi") == VERSIONS[-2]


def test_a_fifo_as_events_file_or_lock_costs_that_host_an_error_not_the_fleet_its_run(tmp_path: Path) -> None:
    """Issue 21: a plain open() of a FIFO blocked the agent forever, so the run never ended and no report was written."""
    names = ("fifo_events", "fifo_lock", "fine")
    lab_dir = tmp_path / "lab"
    inventory = lab.build_lab(
        lab_dir,
        [lab.LabHost(name, faults=["stale_csapi"]) for name in names],
        group_vars={"defs_health_report_dir": str(lab_dir / "reports")},
    )
    hosts = lab_dir / "hosts"
    events_file = Path(
        json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["fifo_events"]["smsmse_defs_events_file"]
    )
    events_file.unlink()
    os.mkfifo(events_file)
    os.mkfifo(hosts / "fifo_lock" / "csapi" / ".smsmse-lock")
    run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / "run")  # the runner gives up after 600 s: a hang fails here
    reported = {h["name"]: h for h in json.loads((lab_dir / "reports" / "defs-health.json").read_text())["hosts"]}
    assert set(reported) == set(names), run.output[-3000:]
    assert reported["fine"]["status"] == "fixed", reported["fine"]["message"]
    locked = reported["fifo_lock"]
    assert locked["status"] == "failed" and ".smsmse-lock" in locked["message"] and "FIFO" in locked["message"], locked["message"]
    assert lab_product.active(hosts / "fifo_lock" / "csapi") == VERSIONS[0], "nothing changed on the host whose lock is a FIFO"
    evented = reported["fifo_events"]
    assert lab_product.active(hosts / "fifo_events" / "csapi") == VERSIONS[-1], "the change itself is made"
    said = json.dumps(evented)
    assert str(events_file) in said and "FIFO" in said, said[:3000]
