"""The trust rules through the defs_health role on a small lab fleet, with the role's default options.

What outside review found, as a user meets it: a truncated CSAPI copy beside an intact Hawking copy
reported compliant, a bad active set left in use (NO_FALLBACK), a tampered file with its mtime
restored trusted from the hash cache, odd folder names taken for versions.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook

pytestmark = pytest.mark.integration
TODAY = dt.datetime.now(dt.timezone.utc).date()
NEWEST = lab.set_versions(TODAY, 3)[-1]
TRUE_VIRSCAN = lab.file_bytes(NEWEST, "virscan1.dat", lab.DEFAULT_FILES[0][1])


def role(inventory: Path, tmp: Path, name: str) -> tuple[Run, dict[str, dict[str, Any]]]:
    run = playbook(f"mailsec.smsmse.{name}", inventory, tmp / name, extra={"defs_health_report_dir": str(tmp / "reports")})
    reported = json.loads((tmp / "reports" / "defs-health.json").read_text())
    return run, {h["name"]: h for h in reported["hosts"]}


def failing(host: dict[str, Any]) -> list[str]:
    return sorted(c["id"] for c in host["checks"] if c["status"] in ("fail", "error"))


def test_the_role_proves_every_good_and_repairs_the_scanners_set(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(
        *(lab.LabHost(f"ok{i}") for i in range(3)),
        lab.LabHost("truncated", faults=["truncated_csapi"]),
        lab.LabHost("tampered"),
        lab.LabHost("odd", faults=["odd_version_names"]),
    )
    hosts = inventory.parent / "hosts"
    run, states = role(inventory, tmp_path, "report")  # also warms every host's hash cache
    assert run.returncode == 0, run.output[-3000:]
    assert states["truncated"]["status"] == "drift" and "csapi_active_good" in failing(states["truncated"])
    assert states["truncated"]["actions"][0]["message"] == (
        f"CSAPI's active set {NEWEST} is bad; the good copy in smsmse_hawking replaces it in place"
    )
    assert states["odd"]["status"] == "compliant"  # the odd names are not versions: nothing newer to promote
    assert states["tampered"]["status"] == "compliant"

    time.sleep(0.05)  # past the file system's clock tick, as any real tampering is
    lab.tamper_keep_mtime(hosts / "tampered" / "csapi" / NEWEST / "virscan1.dat")
    run, states = role(inventory, tmp_path, "enforce")
    assert run.returncode == 0, run.output[-3000:]
    for name in ("truncated", "tampered"):
        assert states[name]["status"] == "fixed", (name, states[name]["message"])
        assert [a["action"] for a in states[name]["actions"]] == ["promote"]
        assert (hosts / name / "csapi" / NEWEST / "virscan1.dat").read_bytes() == TRUE_VIRSCAN, name
        assert run.agent_calls(name) == 2, name
    assert {s["status"] for s in states.values()} == {"compliant", "fixed"}

    run, states = role(inventory, tmp_path, "enforce")
    assert {s["status"] for s in states.values()} == {"compliant"}
    assert all(" changed=0 " in line for line in run.output.splitlines() if " : ok=" in line)
