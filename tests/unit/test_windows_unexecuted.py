"""docs/windows.md says what Mono cannot show: the files no test here executes, their lines, and every Win32 call.

The table and the list must follow the code: a file that gains lines, a new ``DllImport``, or a
new file that calls Win32 fails here until the document says so.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "windows.md").read_text(encoding="utf-8")
SECTION = DOC[DOC.index("## What Mono cannot show") : DOC.index("## Windows integration tests")]
#: libraries only Windows has (the managed host's libc calls run here, under Mono)
WINDOWS_LIBRARIES = ("kernel32.dll", "rstrtmgr.dll", "netapi32.dll", "advapi32.dll", "ntdll.dll", "user32.dll")
IMPORT = re.compile(r'DllImport\("([^"]+)"[^\]]*\]\s*(?:\[[^\]]*\]\s*)*(?:public |private |internal )?static extern \S+ (\w+)\(')


def documented_files() -> dict[str, int]:
    rows = re.findall(r"^\| `([^`]+)` \| ([\d,]+) \|", SECTION, flags=re.MULTILINE)
    return {path: int(lines.replace(",", "")) for path, lines in rows}


def windows_imports(path: Path) -> set[str]:
    return {name for library, name in IMPORT.findall(path.read_text(encoding="utf-8")) if library.lower() in WINDOWS_LIBRARIES}


def test_the_table_counts_the_lines_of_each_file() -> None:
    files = documented_files()
    assert "plugins/modules/defs_agent_win.ps1" in files and "plugins/module_utils/StoreNative.cs" in files
    for path, lines in files.items():
        assert len((ROOT / path).read_text(encoding="utf-8").splitlines()) == lines, f"docs/windows.md: {path} has changed"
    total = re.search(r"^\| \*\*in all\*\* \| \*\*([\d,]+)\*\* \|", SECTION, flags=re.MULTILINE)
    assert total is not None and int(total.group(1).replace(",", "")) == sum(files.values())


def test_every_file_that_calls_win32_is_in_the_table() -> None:
    calling = sorted(
        path.relative_to(ROOT).as_posix() for path in (ROOT / "plugins" / "module_utils").glob("*.cs") if windows_imports(path)
    )
    assert calling and set(calling) <= set(documented_files())


def test_every_win32_call_is_listed() -> None:
    imported = set().union(*(windows_imports(ROOT / path) for path in documented_files() if path.endswith(".cs")))
    listing = SECTION[SECTION.index("- `kernel32.dll`") : SECTION.index("and the .NET Framework classes")]
    listed = set(re.findall(r"`(\w+)`", listing))
    assert len(imported) > 20
    assert sorted(imported - listed) == [], "calls the document does not list"
    assert sorted(listed - imported) == [], "calls the document lists that the code no longer makes"
