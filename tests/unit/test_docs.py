"""The documentation as ansible-doc renders it: each filter its own page, every module its requirements and platforms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FILTERS = ["defs_consensus", "defs_consensus_marks"]
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("defs_*.py"))
AGENTS = ["defs_agent_posix", "defs_agent_win", "defs_agent_win_change", "defs_agent_win_lab"]


def ansible_doc(*args: str) -> str:
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build" / "collections"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([str(BIN / "ansible-doc"), *args], capture_output=True, text=True, check=True, env=env).stdout


def docs(plugin_type: str, names: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ansible_doc("--json", "-t", plugin_type, *(f"mailsec.smsmse.{n}" for n in names)))
    return {name.removeprefix("mailsec.smsmse."): data for name, data in found.items()}


def test_every_filter_has_its_own_documentation() -> None:
    found = docs("filter", FILTERS)
    assert sorted(found) == FILTERS
    for name, data in found.items():
        assert data["doc"]["name"] == name
        assert data["doc"]["version_added"] == "0.1.0"
        assert data["examples"] and f"mailsec.smsmse.{name}" in data["examples"], name
        assert "_value" in data["return"], name
    assert len({data["doc"]["short_description"] for data in found.values()}) == len(FILTERS)


def test_every_filter_is_listed() -> None:
    listed = {line.split()[0] for line in ansible_doc("-t", "filter", "-l", "mailsec.smsmse").splitlines() if line.strip()}
    assert listed == {f"mailsec.smsmse.{name}" for name in FILTERS}


@pytest.fixture(scope="module")
def module_docs() -> dict[str, Any]:
    return docs("module", MODULES)


def test_every_module_states_its_requirements_and_platforms(module_docs: dict[str, Any]) -> None:
    assert sorted(module_docs) == MODULES
    for name, data in module_docs.items():
        doc = data["doc"]
        assert doc["requirements"], name
        platforms = doc["attributes"]["platform"]["platforms"]
        assert platforms, name


def test_internal_modules_say_so_and_are_not_in_the_action_group(module_docs: dict[str, Any]) -> None:
    group = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["defs"]
    internal = sorted(name for name, data in module_docs.items() if data["doc"]["short_description"].startswith("Internal"))
    assert set(AGENTS) <= set(internal)
    for name in internal:
        assert "playbooks" in " ".join(module_docs[name]["doc"]["description"]), f"{name} does not say it is not for playbooks"
        assert name not in group
    assert set(group) <= set(MODULES) - set(internal)


def version_added_by_plugin() -> dict[tuple[str, str], str]:
    """Every top-level version_added of the collection, read from the files: (kind, name) -> version."""
    found: dict[tuple[str, str], str] = {}
    for path in sorted((ROOT / "plugins" / "modules").glob("defs_*.py")):
        text = path.read_text(encoding="utf-8")
        body = text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0]
        found["module", path.stem] = str(yaml.safe_load(body)["version_added"])
    for path in sorted((ROOT / "plugins" / "filter").glob("*.yml")):
        found["filter", path.stem] = str(yaml.safe_load(path.read_text(encoding="utf-8"))["DOCUMENTATION"]["version_added"])
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        specs = yaml.safe_load(path.read_text(encoding="utf-8"))["argument_specs"]
        found["role", path.parts[-3]] = str(specs["main"]["version_added"])
    return found


def test_version_added_is_the_release_each_plugin_shipped_in_or_the_next() -> None:
    """A plugin in a released version says that version; any other says galaxy.yml's, the release being prepared."""
    version = str(yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))["version"])
    releases: dict[str, Any] = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text(encoding="utf-8"))["releases"]
    newest = max(releases, key=lambda v: tuple(int(part) for part in v.split(".")))
    assert tuple(int(part) for part in version.split(".")) >= tuple(int(part) for part in newest.split(".")), (
        f"galaxy.yml's version {version} is older than the released {newest}"
    )
    shipped: dict[tuple[str, str], str] = {}
    for release, data in releases.items():
        entries = [("module", m["name"]) for m in data.get("modules", [])]
        entries += [(kind, p["name"]) for kind, items in data.get("plugins", {}).items() for p in items]
        entries += [(kind, o["name"]) for kind, items in data.get("objects", {}).items() for o in items]
        for entry in entries:
            shipped.setdefault(entry, release)
    wrong = {
        f"{kind} {name}: {added}, expected {shipped.get((kind, name), version)}"
        for (kind, name), added in version_added_by_plugin().items()
        if added != shipped.get((kind, name), version)
    }
    assert not wrong, sorted(wrong)


def test_the_defs_health_steps_share_one_attributes_block(module_docs: dict[str, Any]) -> None:
    """The attributes of the role's two steps come from one fragment, and ansible-doc renders them the same."""
    steps = ["defs_health_fleet", "defs_health_host"]
    for name in steps:
        text = (ROOT / "plugins" / "modules" / f"{name}.py").read_text(encoding="utf-8")
        assert "\nattributes:" not in text, f"{name} repeats the attributes block"
        assert "mailsec.smsmse.health_step" in text, name
    fleet, host = (module_docs[name]["doc"]["attributes"] for name in steps)
    assert fleet == host
    assert fleet["check_mode"]["support"] == "full"
    assert fleet["diff_mode"]["support"] == "none"
    assert fleet["platform"]["platforms"] == ["posix", "windows"]


#: the Windows support statement: README, docs/windows.md and every module that runs the Windows agent say exactly this
WINDOWS_SUPPORT = "Windows Server 2016 or later with Windows PowerShell 5.1 on .NET Framework 4.5 or later"
#: modules whose work runs the Windows agent on the host (defs_health_fleet only reads results on the controller)
RUN_ON_WINDOWS = {
    "defs_agent_win",
    "defs_agent_win_change",
    "defs_facts",
    "defs_health_host",
    "defs_liveupdate",
    "defs_promote",
    "defs_rollback",
    "defs_verify",
}


def requirements(data: dict[str, Any]) -> list[str]:
    return [" ".join(r.split()) for r in data["doc"]["requirements"]]


def test_windows_support_is_stated_the_same_everywhere(module_docs: dict[str, Any]) -> None:
    for page in ("README.md", "docs/windows.md"):
        text = " ".join((ROOT / page).read_text(encoding="utf-8").replace("**", "").split())
        assert WINDOWS_SUPPORT in text, page
        assert "Windows Server 2012 R2 is not supported" in text, page
        assert "2012 R2, 2016" not in text, f"{page} lists 2012 R2 as supported"
    stating = {name for name, data in module_docs.items() if any(WINDOWS_SUPPORT in r for r in requirements(data))}
    assert stating == RUN_ON_WINDOWS
    mentioning = {name for name, data in module_docs.items() if any("PowerShell" in r for r in requirements(data))}
    assert mentioning == RUN_ON_WINDOWS, "a module names PowerShell in its requirements without the support statement"
    windows = {name for name, data in module_docs.items() if "windows" in data["doc"]["attributes"]["platform"]["platforms"]}
    assert windows >= RUN_ON_WINDOWS
