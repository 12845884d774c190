"""The collection as users get it: metadata, the built artifact, and the execution-environment data."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PUBLIC_MODULES = ["defs_facts", "defs_verify", "defs_promote", "defs_rollback"]


def _names(requirements: Path) -> set[str]:
    lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    return {re.split(r"[\[<>=!~ ]", line)[0].lower() for line in lines if line}


def test_galaxy_and_runtime_metadata() -> None:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("mailsec", "smsmse")
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.18.0"
    assert runtime["action_groups"]["defs"] == PUBLIC_MODULES


def test_execution_environment_requirements(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(BIN / "ansible-builder"), "introspect", "--sanitize", str(ROOT / ".build" / "collections")],
        capture_output=True,
        text=True,
        check=True,
    )
    data = yaml.safe_load(done.stdout.split("\n", 1)[1])
    python = {re.split(r"[\[<>=]", line)[0] for line in data["python"]}
    # ansible-builder drops what ansible-core itself brings (pyyaml)
    assert python == _names(ROOT / "requirements.txt") - {"pyyaml"}
    assert all(line.endswith("# from collection mailsec.smsmse") for line in data["python"] + data["system"])
    assert any(line.startswith("krb5-devel [compile platform:rpm]") for line in data["system"])
    assert _names(ROOT / "meta" / "ee-requirements.txt") == _names(ROOT / "requirements.txt")


def test_built_collection_ships_what_it_needs(tmp_path: Path) -> None:
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    (artifact,) = tmp_path.glob("mailsec-smsmse-*.tar.gz")
    with tarfile.open(artifact) as archive:
        names = set(archive.getnames())
    for needed in (
        "schemas/agent/probe.request.json",
        "schemas/agent/probe.reply.json",
        "plugins/modules/defs_agent_win.ps1",
        "plugins/modules/defs_agent_posix.py",
        "plugins/action/defs_facts.py",
        "meta/execution-environment.yml",
        "meta/ee-requirements.txt",
        "playbooks/facts.yml",
        "docs/errors.md",
        "schemas/report.json",
        "plugins/plugin_utils/templates/defs-health.html.j2",
    ):
        assert needed in names, needed
    assert not [n for n in names if n.startswith((".venv", ".build", ".ci/", "bench/"))]
