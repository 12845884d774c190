"""The collection as users get it: metadata, the built artifact, and the execution-environment data."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PUBLIC_MODULES = ["defs_facts", "defs_verify", "defs_promote", "defs_rollback"]
#: the modules that read stores, which module_defaults for group/mailsec.smsmse.defs reach
ACTION_GROUP = [*PUBLIC_MODULES, "defs_import"]


def _names(requirements: Path) -> set[str]:
    lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    return {re.split(r"[\[<>=!~ ]", line)[0].lower() for line in lines if line}


def test_galaxy_and_runtime_metadata() -> None:
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("mailsec", "smsmse")
    assert galaxy["license"] == ["GPL-3.0-or-later"]
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == ">=2.18.0"
    assert runtime["action_groups"]["defs"] == ACTION_GROUP


def test_execution_environment_requirements() -> None:
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
    assert any(line.startswith("pywinrm[kerberos,credssp]") for line in data["python"])
    assert any(line.startswith("pypsrp[kerberos,credssp]") for line in data["python"])
    assert any(line.startswith("krb5-devel [compile platform:rpm]") for line in data["system"])


def test_requirements_give_the_windows_authentication_extras() -> None:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "pywinrm[kerberos,credssp]>=0.4.3" in lines
    assert "pypsrp[kerberos,credssp]>=0.8.1" in lines
    # the test environments install the same packages, without the extras that need Kerberos headers
    assert _names(ROOT / "requirements.txt") <= _names(ROOT / "requirements-dev.txt")


def test_the_readme_sections_the_package_points_to_exist() -> None:
    headings = {line.lstrip("#").strip() for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("#")}
    ee = (ROOT / "meta" / "execution-environment.yml").read_text()
    for section in re.findall(r'"([^"]+)" section of README\.md', ee):
        assert section in headings, section
    assert re.search(r'"[^"]+" section of README\.md', ee)


#: caches and folders the developer tools and the tests leave in the tree; none may be shipped
LEFT_BY_TOOLS = (
    ".ansible/collections/ansible_collections/mailsec/smsmse/galaxy.yml",  # ansible-lint
    ".ruff_cache/0.17.6/123",
    ".mypy_cache/3.13/cache.db",
    ".pytest_cache/v/cache/nodeids",
    ".hypothesis/examples/abc",
    "plugins/plugin_utils/.mypy_cache/x.json",
    "plugins/plugin_utils/__pycache__/lab.cpython-313.pyc",
    ".build/collections/x",
    ".venv-primary/bin/python",
    ".venv-2.18/bin/python",
    "lab/inventory.yml",
    "demo-lab/inventory.yml",
    "tests/output/junit.xml",
    "mailsec-smsmse-0.0.1.tar.gz",
)
#: what the built collection holds at its top level, exactly
SHIPPED_TOP = {
    "CHANGELOG.rst",
    "FILES.json",
    "LICENSE",
    "MANIFEST.json",
    "README.md",
    "changelogs",
    "docs",
    "meta",
    "playbooks",
    "plugins",
    "requirements.txt",
    "roles",
    "schemas",
    "tests",
}


def _tracked_copy(dest: Path) -> Path:
    """The files git tracks (or would), copied to ``dest``: the tree a developer builds from."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_built_collection_ships_only_the_collection(tmp_path: Path) -> None:
    tree = _tracked_copy(tmp_path / "tree")
    for name in LEFT_BY_TOOLS:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("left by a tool\n")
    subprocess.run(
        [str(BIN / "ansible-galaxy"), "collection", "build", str(tree), "--output-path", str(tmp_path)],
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
        "plugins/modules/defs_agent_win_change.ps1",
        "plugins/modules/defs_agent_posix.py",
        "plugins/action/defs_facts.py",
        "meta/execution-environment.yml",
        "meta/ee-bindep.txt",
        "requirements.txt",
        "playbooks/facts.yml",
        "docs/errors.md",
        "CHANGELOG.rst",
        "schemas/report.json",
        "plugins/plugin_utils/_report/templates/defs-health.html.j2",
    ):
        assert needed in names, needed
    assert {name.split("/")[0] for name in names} == SHIPPED_TOP
    leaked = [n for n in names if any(part in n.split("/") for part in ("__pycache__", ".mypy_cache", ".pytest_cache"))]
    assert leaked == []
    assert not [n for n in names if n.startswith("tests/output")]


def test_the_changelog_is_released() -> None:
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())["releases"]
    assert releases
    assert {m["name"] for release in releases.values() for m in release.get("modules", [])} >= set(PUBLIC_MODULES)
    assert {r["name"] for release in releases.values() for r in release.get("objects", {}).get("role", [])} == {"defs_health"}
    filters = {p["name"] for release in releases.values() for p in release.get("plugins", {}).get("filter", [])}
    assert filters >= {"defs_consensus", "defs_consensus_marks"}
    # new modules are listed as such, not described again as major changes
    majors = [line for release in releases.values() for line in release.get("changes", {}).get("major_changes", [])]
    assert not [line for line in majors if "new module" in line]
    rendered = (ROOT / "CHANGELOG.rst").read_text()
    assert not [version for version in releases if f"v{version}\n" not in rendered]
