# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one call of the Windows agent costs, per operation: the bytes Ansible sends, and the C# csc compiles.

For each operation (a probe, an apply) it follows the ``#AnsibleRequires`` lines of the module that
serves it through this collection's module utils and ansible-core's own (``Ansible.Basic.cs``,
``Ansible.ModuleUtils.AddType.psm1``), as the module manifest does, and prints each file's size and:

- ``sent``: the module and every util it requires, in bytes (the measure of the issue's goals: a probe
  sends at most 250 KB);
- ``on the wire``: what ansible-core's exec wrapper really sends for that call (its own scripts and the
  request included, base64 in a JSON manifest), built by ansible-core itself;
- ``compiled``: the C# that csc compiles on every call, ``Ansible.Basic.cs`` included (goal for a probe:
  at most 150 KB);
- whether the operation carries the change code (``SmsmseEngineApply.cs``), which a probe should not.

Run with the project's Python: ``.venv-primary/bin/python scripts/win_payload.py [--json]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

import ansible

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "plugins" / "module_utils"
MODULES = ROOT / "plugins" / "modules"
CORE = Path(ansible.__file__).resolve().parent / "module_utils"
PREFIX = "ansible_collections.mailsec.smsmse.plugins.module_utils."
REQUIRES = re.compile(r"(?m)^\s*(?:#|//)AnsibleRequires\s+-(PowerShell|CSharpUtil)\s+(\S+)\s*$")
#: operation -> the module that serves it on a Windows host (plugins/plugin_utils/_host/agent.py)
MODULE_FOR = {"probe": "defs_agent_win.ps1", "apply": "defs_agent_win_change.ps1"}
#: the file of the change code, which a probe should not carry
CHANGE_CODE = "SmsmseEngineApply.cs"
GOALS = {"probe": {"sent": 250_000, "compiled": 150_000}}


def locate(kind: str, name: str) -> Path:
    ext = ".psm1" if kind == "PowerShell" else ".cs"
    if name.startswith(PREFIX):
        return OWN / (name[len(PREFIX) :] + ext)
    return CORE / ("powershell" if ext == ".psm1" else "csharp") / (name + ext)


def closure(start: Path) -> dict[Path, int]:
    """Every file the module at ``start`` requires, transitively, with its size in bytes."""
    found: dict[Path, int] = {}
    pending = [start]
    while pending:
        path = pending.pop()
        if path in found:
            continue
        data = path.read_bytes()
        found[path] = len(data)
        for kind, name in REQUIRES.findall(data.decode("utf-8")):
            pending.append(locate(kind, name))
        if path.suffix == ".cs":
            pending.append(CORE / "powershell" / "Ansible.ModuleUtils.AddType.psm1")
    return found


def ours(path: Path) -> bool:
    # the project's virtual environments live under ROOT too: only plugins/ is the collection's
    return (ROOT / "plugins") in path.parents


def on_the_wire(module: Path, op: str) -> int:
    """The bytes ansible-core's exec wrapper sends to run ``module`` for ``op`` (bootstrap input), as it builds them."""
    collections = ROOT / ".build" / "collections"
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    _AnsibleCollectionFinder(paths=[str(collections)])._install()
    from ansible.executor.powershell import module_manifest

    data = module.read_bytes()
    wrapper = module_manifest._create_powershell_wrapper
    if "name" in inspect.signature(wrapper).parameters:  # ansible-core 2.19 and later
        built = wrapper(
            name=f"mailsec.smsmse.{module.stem}",
            module_data=data,
            module_path=str(module),
            module_args={"op": op, "request": {}},
            environment={},
            async_timeout=0,
            become_plugin=None,
            substyle="powershell",
            task_vars={},
            profile="legacy",
        )
    else:  # ansible-core 2.18 names the same inputs differently, become spelt out
        legacy: dict[str, Any] = {
            "b_module_data": data,
            "module_path": str(module),
            "module_args": {"op": op, "request": {}},
            "environment": {},
            "async_timeout": 0,
            "become": False,
            "become_method": None,
            "become_user": None,
            "become_password": None,
            "become_flags": None,
            "substyle": "powershell",
            "task_vars": {},
            "module_fqn": f"mailsec.smsmse.{module.stem}",
        }
        built = wrapper(**legacy)  # pylint: disable=missing-kwoa  # (pylint checks against the installed 2.19+ signature)
    return len(built)


def measure(op: str) -> dict[str, Any]:
    module = MODULES / MODULE_FOR[op]
    files = closure(module)
    return {
        "op": op,
        "module": module.name,
        "files": {f"{path.name} ({'collection' if ours(path) else 'ansible-core'})": size for path, size in files.items()},
        "sent": sum(files.values()),
        "from_collection": sum(size for path, size in files.items() if ours(path)),
        "compiled": sum(size for path, size in files.items() if path.suffix == ".cs"),
        "on_the_wire": on_the_wire(module, op),
        "change_code": any(path.name == CHANGE_CODE for path in files),
    }


def show(found: dict[str, Any]) -> None:
    print(f"== {found['op']} ({found['module']})")
    for name, size in sorted(found["files"].items(), key=lambda item: -item[1]):
        print(f"{size:>8}  {name}")
    goal = GOALS.get(found["op"], {})
    for key, label in (
        ("from_collection", "from this collection"),
        ("compiled", "C# compiled by csc on every call (Ansible.Basic.cs included)"),
        ("sent", "sent: the module and every util it requires"),
        ("on_the_wire", "on the wire: the exec wrapper's manifest (its scripts, base64, the request)"),
    ):
        mark = ""
        if key in goal:
            mark = f"   goal <= {goal[key]}: {'met' if found[key] <= goal[key] else 'MISSED'}"
        print(f"{found[key]:>8}  {label}{mark}")
    print(f"{'yes' if found['change_code'] else 'no':>8}  carries the change code ({CHANGE_CODE})\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the measures as JSON")
    args = parser.parse_args(argv)
    measures = [measure(op) for op in MODULE_FOR]
    if args.json:
        print(json.dumps(measures, indent=2))
    else:
        for found in measures:
            show(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
