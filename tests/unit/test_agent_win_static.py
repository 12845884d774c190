"""The Windows agent's shim and Win32 layer, checked without Windows: syntax, PowerShell 5.1 only, module shape, P/Invoke.

The agent is ``plugins/modules/defs_agent_win.ps1``, a shim over the C# engine it requires
(``plugins/module_utils/SmsmseEngine*.cs`` with ``Store*.cs``). What the agent does is executed,
not read: the engine runs under mono through the shared case tables (``test_apply_cases.py``,
``test_probe_cases.py``) and its own checks (``test_engine.py``). Here the PowerShell is parsed with
tree-sitter, held to PowerShell 5.1 and to its size, and the P/Invoke declarations mono cannot
call are checked for what breaks them on Windows.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.modules.defs_agent_win import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec

from . import ps_static

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "plugins" / "modules" / "defs_agent_win.ps1"
UTILS = ROOT / "plugins" / "module_utils"
SCHEMAS = ROOT / "schemas" / "agent"
CASES = ROOT / "tests" / "contract" / "apply_cases.yml"
PREFIX = "ansible_collections.mailsec.smsmse.plugins.module_utils."
OPERATIONS = ("probe", "apply", "run_liveupdate")
#: results every step may report
COMMON_RESULTS = frozenset({"done", "skipped", "failed"})


def closure() -> dict[str, bytes]:
    """The agent and every collection module util it requires, transitively: file name -> source."""
    found: dict[str, bytes] = {}
    pending = [AGENT]
    while pending:
        path = pending.pop()
        if path.name in found:
            continue
        found[path.name] = path.read_bytes()
        for kind, name in ps_static.requires(found[path.name]):
            if name.startswith(PREFIX):
                pending.append(UTILS / (name[len(PREFIX) :] + (".psm1" if kind == "PowerShell" else ".cs")))
    return found


SOURCES = closure()
PS_FILES = sorted(name for name in SOURCES if not name.endswith(".cs"))
CS_FILES = sorted(name for name in SOURCES if name.endswith(".cs"))
#: every line of PowerShell the collection ships (issue 19: at most 250)
MAX_POWERSHELL_LINES = 250


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


# --- syntax and module shape ---

# --- syntax and module shape ---


@pytest.mark.parametrize("name", PS_FILES)
def test_parses_without_errors(name: str) -> None:
    assert [str(f) for f in ps_static.syntax_errors(SOURCES[name])] == []


@pytest.mark.parametrize("name", PS_FILES)
def test_uses_no_powershell_7_syntax(name: str) -> None:
    assert [str(f) for f in ps_static.ps7_constructs(SOURCES[name])] == []


def test_the_agent_is_a_shim_over_the_engine() -> None:
    assert PS_FILES == ["defs_agent_win.ps1"]
    assert CS_FILES == [
        "SmsmseEngine.cs",
        "SmsmseEngineApply.cs",
        "SmsmseEngineFetch.cs",
        "SmsmseEngineWin.cs",
        "StoreNative.cs",
        "StorePolicy.cs",
    ]
    text = SOURCES["defs_agent_win.ps1"].decode()
    assert "SmsmseEngine.Agent]::Run($op, $request, $module.CheckMode, $target)" in text
    assert "SmsmseEngine.Json]::Parse($module.Params.request_json)" in text
    assert "SmsmseEngineWin.Hosts]::Windows($runtime)" in text


def test_the_collection_ships_little_powershell() -> None:
    shipped = [p for p in (ROOT / "plugins").rglob("*") if p.suffix in (".ps1", ".psm1")]
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in shipped)
    assert lines <= MAX_POWERSHELL_LINES, f"{lines} lines of PowerShell in {sorted(p.name for p in shipped)}"


def test_agent_is_an_ansible_basic_module() -> None:
    text = SOURCES["defs_agent_win.ps1"].decode()
    assert text.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in text
    assert "$module.FailJson(" in text and ", $_)" in text and "$module.ExitJson()" in text
    for name in PS_FILES:
        assert b"\r" not in SOURCES[name]


@pytest.mark.parametrize("name", CS_FILES)
def test_csharp_namespace_is_the_util_name(name: str) -> None:
    # Ansible finds a C# util by its namespace: ansible_collections.<ns>.<coll>.plugins.module_utils.<File>
    text = SOURCES[name].decode()
    assert f"namespace {PREFIX}{name[:-3]}\n" in text


def test_agent_offers_the_operations() -> None:
    choices = re.search(r"op = @\{[^}]*choices = @\(([^)]*)\)", SOURCES["defs_agent_win.ps1"].decode())
    assert choices is not None
    assert [c.strip().strip("'") for c in choices.group(1).split(",")] == list(OPERATIONS)
    assert argspec.documented_options(DOCUMENTATION)["op"]["choices"] == list(OPERATIONS)
    engine = SOURCES["SmsmseEngine.cs"].decode()
    assert all(f'case "{op}":' in engine for op in OPERATIONS)


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("$a = $b ?? 'x'", "??"),
        ("$a = $b?.Name", "?."),
        ("$a = ${b}?[0]", None),
        ("Get-Item x && Write-Output y", "&&"),
        ("Get-Item x || Write-Output y", "||"),
        ("$a = $b ? 1 : 2", "ternary"),
        ("1..3 | ForEach-Object -Parallel { $_ }", "-Parallel"),
        ("$h = '{}' | ConvertFrom-Json -AsHashtable", "-AsHashtable"),
        ("Get-Error", "PowerShell 7 cmdlet"),
        ("$x = [System.IO.Path]::GetRelativePath('a', 'b')", ".NET Core"),
    ],
)
def test_ps7_detector_catches(snippet: str, problem: str | None) -> None:
    found = ps_static.ps7_constructs(snippet.encode()) + ps_static.syntax_errors(snippet.encode())
    assert found, f"nothing found in {snippet!r}"
    if problem:
        assert any(problem in f.problem or "syntax error" in f.problem for f in found)


def test_ps7_detector_ignores_strings_and_comments() -> None:
    snippet = b"# a && b ?? c\n$a = 'x && y ?? z'\n$b = \"?. ||\"\n<# Get-Error #>\n"
    assert ps_static.ps7_constructs(snippet) == []
    assert ps_static.syntax_errors(snippet) == []


def test_syntax_errors_are_found_with_line() -> None:
    found = ps_static.syntax_errors(b"$a = 1\nfunction f {\n  $x = @{ a = \n")
    assert found and found[0].line >= 2


def test_assigned_members_count_as_produced() -> None:
    source = b"$store.hash_stats = @{ files_hashed = 1 }\n$a.b.c = 2\nif ($x.d -eq 1) { }\n# $e.f = 3\n"
    assert ps_static.assigned_members(source) == {"hash_stats", "c"}
    assert ps_static.produced_fields(source) == {"hash_stats", "c", "files_hashed"}


def test_read_fields_sees_chains_indexes_and_get_field() -> None:
    source = b"$x = $wire.limits.retry_seconds\n$y = $record['pid']\n$z = Get-Field -Map $a -Name 'cache_dir'\n# $q.hidden\n"
    assert ps_static.read_fields(source) == {"limits", "retry_seconds", "pid", "cache_dir"}


def test_contract_checks_catch_a_missing_field() -> None:
    keys = ps_static.hashtable_keys(b"$r = @{ contract = 1; 'op' = 'probe' }")
    assert keys == {"contract", "op"}
    assert "events_error" in ps_static.schema_property_names(schema("probe.reply.json")) - keys


# --- P/Invoke declarations (review: code that runs on Exchange servers untested) ---

DLLIMPORT = re.compile(
    r"\[DllImport\(([^)]*)\)\]\s*(?:\[return: [^\]]*\]\s*)?(?:private|public|internal) static extern (\w+) (\w+)\(([^;]*)\);"
)
#: functions that return their error code instead of setting the thread's last error
RETURN_CODE_APIS = frozenset({"RmStartSession", "RmRegisterResources", "RmGetList", "RmEndSession"})
#: kernel32 functions that cannot fail
CANNOT_FAIL = frozenset({"GetTickCount64", "NetApiBufferFree"})


def imports() -> list[tuple[str, str, str, str]]:
    text = SOURCES["StoreNative.cs"].decode() + SOURCES["SmsmseEngineWin.cs"].decode().replace("System.Runtime.InteropServices.", "")
    return [m.groups() for m in DLLIMPORT.finditer(text)]  # type: ignore[misc]


def test_every_pinvoke_declares_its_character_set_and_error_reporting() -> None:
    found = imports()
    assert len(found) >= 20, "the declaration pattern no longer matches the files"
    problems = []
    for attributes, _returns, name, parameters in found:
        if ("string" in parameters or "StringBuilder" in parameters) and "CharSet = CharSet.Unicode" not in attributes:
            problems.append(f"{name}: strings without CharSet.Unicode (ANSI would mangle non-ASCII paths)")
        if ("kernel32" in attributes or "netapi32" in attributes) and name not in CANNOT_FAIL and "SetLastError = true" not in attributes:
            problems.append(f"{name}: kernel32 without SetLastError (Marshal.GetLastWin32Error would read another call's error)")
        if name in RETURN_CODE_APIS and "SetLastError = true" in attributes:
            problems.append(f"{name}: returns its error code")
        for declared in parameters.split(","):
            words = re.sub(r"\[[^\]]*\]", "", declared).split()
            if len(words) >= 2 and re.match(r"h[A-Z]", words[-1]) and words[-2] in {"int", "uint", "long", "ulong"}:
                problems.append(f"{name}: handle {words[-1]} as {words[-2]} (pointer-sized on 64-bit: IntPtr or a SafeHandle)")
    assert problems == []


def test_pinvoke_check_catches_an_ansi_declaration() -> None:
    snippet = '[DllImport("kernel32.dll")]\n        private static extern bool DeleteFileW(string lpFileName);'
    match = DLLIMPORT.search(snippet)
    assert match is not None and "CharSet" not in match.group(1)


def test_every_native_handle_is_released() -> None:
    # handles from CreateFile, FindFirstFile and CreateJobObject are SafeHandles (released on Dispose or finalization);
    # each one the code opens sits in a using block or is disposed on the error path
    text = re.sub(r"(?m)//.*$", "", SOURCES["StoreNative.cs"].decode())
    assert "IntPtr CreateFile" not in text and "IntPtr FindFirstFile" not in text and "IntPtr CreateJobObject" not in text
    for opened in re.finditer(r"SafeFileHandle handle = CreateFile\(", text):
        after = text[opened.end() : opened.end() + 600]
        assert "handle.Dispose()" in after or text[max(0, opened.start() - 40) : opened.start()].strip().endswith("using ("), after
    assert text.count("RmStartSession(out session") == 1 and re.search(r"finally\s*\{\s*RmEndSession\(session\);", text)
