"""The Windows integration targets stay valid where they cannot run.

``tests/integration/targets/win_defs_*`` run under ``ansible-test windows-integration``
against a real Windows host (docs/windows.md says how). Here they are syntax-checked with
``ansible-playbook --syntax-check``, their helper script is parsed as Windows PowerShell
5.1, and every helper action and store state they use is one the helper offers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import ps_static

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "tests" / "integration" / "targets"
SETUP = TARGETS / "setup_win_defs_store"
LAB = SETUP / "files" / "DefsLab.ps1"
WINDOWS_TARGETS = sorted(p.name for p in TARGETS.glob("win_*") if p.is_dir())


def test_there_are_windows_targets() -> None:
    assert WINDOWS_TARGETS == ["win_defs_probe", "win_defs_promote", "win_defs_rollback"]


@pytest.mark.parametrize("name", WINDOWS_TARGETS)
def test_target_is_a_windows_integration_target(name: str) -> None:
    aliases = (TARGETS / name / "aliases").read_text().split()
    assert {"windows", "shippable/windows/group1", "needs/target/setup_win_defs_store"} <= set(aliases)
    meta = yaml.safe_load((TARGETS / name / "meta" / "main.yml").read_text())
    assert meta["dependencies"] == ["setup_win_defs_store"]


@pytest.mark.parametrize("name", WINDOWS_TARGETS)
def test_target_passes_ansible_playbook_syntax_check(name: str, tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(f"- hosts: all\n  gather_facts: false\n  roles: [{name}]\n")
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(TARGETS),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
    }
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "--syntax-check", "-i", "winhost,", str(playbook)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_helper_is_windows_powershell_5_1() -> None:
    source = LAB.read_bytes()
    assert [str(f) for f in ps_static.syntax_errors(source)] == []
    assert [str(f) for f in ps_static.ps7_constructs(source)] == []


def helper_actions() -> set[str]:
    found = re.search(r"ValidateSet\(([^)]*)\)\]\[string\]\$Action", LAB.read_text())
    assert found is not None
    return set(re.findall(r"'(\w+)'", found.group(1)))


def tasks(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((TARGETS / name / "tasks" / "main.yml").read_text())
    return loaded


@pytest.mark.parametrize("name", [*WINDOWS_TARGETS, "setup_win_defs_store"])
def test_targets_call_only_actions_the_helper_offers(name: str) -> None:
    offered = helper_actions()
    used = set()
    for task in tasks(name):
        command = task.get("ansible.builtin.script")
        if command is None:
            continue
        action = re.search(r"-Action (\S+)", command)
        assert action is not None, task["name"]
        if "{{" in action.group(1):
            used |= {str(i) if not isinstance(i, dict) else str(i["action"]) for i in task["loop"]}
        else:
            used.add(action.group(1))
    assert used and used <= offered


@pytest.mark.parametrize("name", WINDOWS_TARGETS)
def test_targets_use_only_the_collection_and_builtin_modules(name: str) -> None:
    # the Windows test host needs nothing but this collection: no ansible.windows
    actions = {key for task in tasks(name) for key in task if "." in key}
    assert actions <= {
        "ansible.builtin.script",
        "ansible.builtin.assert",
        "ansible.builtin.set_fact",
        "mailsec.smsmse.defs_facts",
        "mailsec.smsmse.defs_verify",
        "mailsec.smsmse.defs_promote",
        "mailsec.smsmse.defs_rollback",
    }


def test_documented_payload_is_current() -> None:
    # docs/windows.md states what one agent call sends; scripts/win_payload.py counts it
    bin_dir = Path(sys.executable).parent
    script = [str(bin_dir / "python"), str(ROOT / "scripts" / "win_payload.py"), "--json"]
    counted = {m["op"]: m for m in json.loads(subprocess.run(script, capture_output=True, text=True, check=True).stdout)}
    doc = (ROOT / "docs" / "windows.md").read_text(encoding="utf-8")
    for op in ("probe", "apply"):
        for key, label in (("sent", "sent"), ("compiled", "compiled by csc")):
            documented = re.search(rf"\| {op}: {label} \| ([\d,]+) \|", doc)
            assert documented is not None, f"docs/windows.md has no row '{op}: {label}'"
            stated, actual = int(documented.group(1).replace(",", "")), counted[op][key]
            assert abs(stated - actual) <= actual * 0.05, (
                f"docs/windows.md says {op}: {label} {stated} bytes, scripts/win_payload.py counts {actual}: update the table"
            )


def test_the_setup_secures_its_stores_as_the_installer_does() -> None:
    # the store privacy rule must pass on the targets' stores: the root is secured before any store is made in it
    source = LAB.read_text()
    new = source[source.index("    'new' {") : source.index("    'state' {")]
    assert new.index("Set-InstallerAcl -Path $Root") < new.index("foreach ($name in @('hawking', 'csapi'")
    body = ps_static.functions(LAB.read_bytes())["Set-InstallerAcl"].decode()
    assert "SetAccessRuleProtection($true, $false)" in body  # no CREATOR OWNER entry for the admin running it
    grants = re.findall(r"@\('(S-1-5-[\d-]+)', '(\w+)'\)", body)
    assert grants == [("S-1-5-18", "FullControl"), ("S-1-5-32-544", "FullControl"), ("S-1-5-32-545", "ReadAndExecute")]
    assert "SetOwner((New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList 'S-1-5-32-544'))" in body
