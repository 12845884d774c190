# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Ansible sends to a Windows host for one call of the Windows agent, in bytes.

Follows the ``#AnsibleRequires`` lines from ``defs_agent_win.ps1`` through this collection's
module utils and ansible-core's own (``Ansible.Basic.cs``, ``Ansible.ModuleUtils.AddType.psm1``),
as the module manifest does, and prints each file's size, what csc compiles on every call, and the
total. Run with the project's Python: ``.venv-primary/bin/python scripts/win_payload.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import ansible

ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "plugins" / "module_utils"
CORE = Path(ansible.__file__).resolve().parent / "module_utils"
PREFIX = "ansible_collections.mailsec.smsmse.plugins.module_utils."
REQUIRES = re.compile(r"(?m)^\s*(?:#|//)AnsibleRequires\s+-(PowerShell|CSharpUtil)\s+(\S+)\s*$")


def locate(kind: str, name: str) -> Path:
    ext = ".psm1" if kind == "PowerShell" else ".cs"
    if name.startswith(PREFIX):
        return OWN / (name[len(PREFIX) :] + ext)
    return CORE / ("powershell" if ext == ".psm1" else "csharp") / (name + ext)


def closure(start: Path) -> dict[Path, int]:
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


def main() -> None:
    files = closure(ROOT / "plugins" / "modules" / "defs_agent_win.ps1")
    for path, size in sorted(files.items(), key=lambda item: -item[1]):
        where = "collection" if ours(path) else "ansible-core"
        print(f"{size:>8}  {path.name}  ({where})")
    own = sum(size for path, size in files.items() if ours(path))
    csharp = sum(size for path, size in files.items() if path.suffix == ".cs")
    print(f"{own:>8}  from this collection")
    print(f"{csharp:>8}  C# compiled by csc on every call")
    print(f"{sum(files.values()):>8}  in all (before the exec wrapper's own scripts and base64)")


if __name__ == "__main__":
    main()
