"""Hostile names through ansible-playbook: a name that is not UTF-8 is reported on its set, never fails the host."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import lab, lab_product

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
