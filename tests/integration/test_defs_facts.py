"""defs_facts end to end: ansible-playbook against lab hosts over the local connection."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.scripts import facts_table

from .runner import playbook

pytestmark = pytest.mark.integration


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()


def without_free_space(result: dict[str, Any]) -> dict[str, Any]:
    """The facts without free_bytes, which other processes on the machine change between runs."""
    facts = result["ansible_facts"]["smsmse_defs"]
    return {**facts, "stores": {name: {k: v for k, v in store.items() if k != "free_bytes"} for name, store in facts["stores"].items()}}


@pytest.fixture
def mixed_lab(lab_factory: Callable[..., Path]) -> Path:
    return lab_factory(
        lab.LabHost("healthy"),
        lab.LabHost("stale", version="6.0.14", faults=["stale_csapi"]),
        lab.LabHost("nomarker", faults=["missing_marker"]),
        lab.LabHost("broken", faults=["malformed_definfo"]),
    )


#: the agent the facts name, and how its runtime begins, for each lab agent (tests/integration/conftest.py)
SERVED_BY = {"posix": ("defs_agent_posix", "Python 3."), "windows": ("defs_agent_win", "Mono ")}


def test_facts_for_every_host_and_a_clear_error_for_one(mixed_lab: Path, tmp_path: Path, lab_agent: str) -> None:
    before = tree_digest(mixed_lab.parent)
    run = playbook("mailsec.smsmse.facts", mixed_lab, tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    assert sorted(run.results) == ["broken", "healthy", "nomarker", "stale"]

    healthy = run.results["healthy"]["ansible_facts"]["smsmse_defs"]
    versions = [s["version"] for s in healthy["stores"]["hawking"]["sets"]]
    assert len(versions) == 3
    assert healthy["stores"]["csapi"]["active"] == versions[-1] == healthy["newest"]
    assert healthy["product"] == {
        "name": "Symantec Mail Security for Microsoft Exchange",
        "version": "6.5.8",
        "scheme": "6.5",
        "event_ids": {"rollback": 399, "no_valid": 400, "init_failed": 401},
        "self_verifies": True,
        "basis": {"event_ids": "vendor", "self_verifies": "vendor"},
        "note": "6.5.1 and higher verify definitions (TECH146697)",
        "source": "option",
        "install_folder": None,
        "service": None,
    }
    assert [e["id"] for e in healthy["events"]] == [25, 30]
    assert run.results["healthy"]["changed"] is False
    name, runtime = SERVED_BY[lab_agent]
    assert healthy["agent"]["name"] == name and healthy["agent"]["runtime"].startswith(runtime), healthy["agent"]

    stale = run.results["stale"]["ansible_facts"]["smsmse_defs"]
    assert stale["stores"]["csapi"]["active"] == versions[0]
    assert stale["product"]["event_ids"] == {"rollback": 393, "no_valid": 394, "init_failed": 395}

    nomarker = run.results["nomarker"]["ansible_facts"]["smsmse_defs"]
    assert [s["complete"] for s in nomarker["stores"]["hawking"]["sets"]] == [True, True, False]

    # a malformed definfo.dat is reported in the facts (as defs_verify reports it), not a failure of the host
    broken = run.results["broken"]
    definfo = str(mixed_lab.parent / "hosts" / "broken" / "csapi" / "definfo.dat")
    assert not broken.get("failed"), broken.get("msg")
    damaged = broken["ansible_facts"]["smsmse_defs"]["stores"]["csapi"]
    assert damaged["active"] is None
    assert damaged["definfo_error"] == {
        "code": "DEFINFO_MALFORMED",
        "message": f"{definfo} line 3: cannot read 'this line is not ini': expected [Section], key=value, a ; comment or a blank line.",
        "path": definfo,
    }
    assert any("csapi: DEFINFO_MALFORMED: " in w for w in broken["warnings"])

    for host in ("healthy", "stale", "nomarker", "broken"):
        assert run.agent_calls(host) == 1, host

    table = facts_table.render([facts_table.row(host, result) for host, result in sorted(run.results.items())]).splitlines()
    assert table[0].split() == list(facts_table.COLUMNS)
    assert table[2].split()[:7] == ["broken", "6.5.8", "6.5", "yes", versions[-1], versions[-1], "(definfo.dat"]
    assert table[3].split() == ["healthy", "6.5.8", "6.5", "yes", *[versions[-1]] * 4, "8", "25,30"]
    assert table[4].split()[4:7] == [versions[-1], "(!marker)", versions[-1]]
    assert table[5].split()[:8] == ["stale", "6.0.14", "6.0", "yes", versions[-1], versions[-1], versions[0], versions[-1]]
    assert tree_digest(mixed_lab.parent) == before, "defs_facts must not change anything"


def test_check_mode_reports_the_same(mixed_lab: Path, tmp_path: Path) -> None:
    real = playbook("mailsec.smsmse.facts", mixed_lab, tmp_path / "real")
    checked = playbook("mailsec.smsmse.facts", mixed_lab, tmp_path / "check", "--check")
    assert checked.returncode == 0, checked.output[-3000:]
    for host in ("healthy", "stale", "nomarker"):
        assert without_free_space(checked.results[host]) == without_free_space(real.results[host])
        assert checked.results[host]["changed"] is False
    assert checked.agent_calls() == 4


def test_failure_without_ignore_errors_fails_only_that_host(mixed_lab: Path, tmp_path: Path) -> None:
    run = playbook(str(Path(__file__).parent / "playbooks" / "facts_strict.yml"), mixed_lab, tmp_path)
    assert run.returncode == 2
    assert "fatal: [broken]: FAILED!" in run.output
    for host in ("healthy", "stale", "nomarker"):
        assert f"ok: [{host}]" in run.output
    recap = {line.split()[0]: line for line in run.output.splitlines() if " : ok=" in line}
    assert "failed=1" in recap["broken"] and "failed=0" in recap["healthy"]
