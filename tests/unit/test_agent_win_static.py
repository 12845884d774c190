"""The Windows agent's shim and Win32 layer, checked without Windows: syntax, PowerShell 5.1 only, module shape, P/Invoke.

The agent is ``plugins/modules/defs_agent_win.ps1`` (the probe) and ``defs_agent_win_change.ps1``
(apply and run_liveupdate), two shims over the C# engine they require
(``plugins/module_utils/SmsmseEngine*.cs`` with ``Store*.cs``); only the second carries the change code. What the agent does is executed,
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

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_win, defs_agent_win_change
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec

from . import ps_static

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
#: each Windows module, the operations it serves and its documentation
AGENTS = {
    "defs_agent_win.ps1": (("probe",), defs_agent_win.DOCUMENTATION),
    "defs_agent_win_change.ps1": (("apply", "run_liveupdate"), defs_agent_win_change.DOCUMENTATION),
}
UTILS = ROOT / "plugins" / "module_utils"
SCHEMAS = ROOT / "schemas" / "agent"
CASES = ROOT / "tests" / "contract" / "apply_cases.yml"
PREFIX = "ansible_collections.mailsec.smsmse.plugins.module_utils."
OPERATIONS = ("probe", "apply", "run_liveupdate")
#: results every step may report
COMMON_RESULTS = frozenset({"done", "skipped", "failed"})


def closure(*modules: str) -> dict[str, bytes]:
    """The modules and every collection module util they require, transitively: file name -> source."""
    found: dict[str, bytes] = {}
    pending = [MODULES / name for name in modules]
    while pending:
        path = pending.pop()
        if path.name in found:
            continue
        found[path.name] = path.read_bytes()
        for kind, name in ps_static.requires(found[path.name]):
            if name.startswith(PREFIX):
                pending.append(UTILS / (name[len(PREFIX) :] + (".psm1" if kind == "PowerShell" else ".cs")))
    return found


SOURCES = closure(*AGENTS)
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
    assert PS_FILES == ["defs_agent_win.ps1", "defs_agent_win_change.ps1"]
    assert CS_FILES == [
        "SmsmseEngine.cs",
        "SmsmseEngineApply.cs",
        "SmsmseEngineFetch.cs",
        "SmsmseEngineReadBack.cs",
        "SmsmseEngineWin.cs",
        "StoreNative.cs",
        "StorePolicy.cs",
    ]
    for name in AGENTS:
        text = SOURCES[name].decode()
        assert "SmsmseEngine.Agent]::Run($op, $request, $module.CheckMode, $target, $module.Params.deadline_seconds)" in text
        assert "SmsmseEngine.Json]::Parse($module.Params.request_json)" in text
        assert "SmsmseEngineWin.Hosts]::Windows($runtime)" in text


def test_a_probe_carries_no_change_code() -> None:
    # issue 19: the probe's module neither sends nor compiles SmsmseEngineApply.cs (nor the fetch step it requires)
    probe = ["SmsmseEngine.cs", "SmsmseEngineWin.cs", "StoreNative.cs", "StorePolicy.cs", "defs_agent_win.ps1"]
    assert sorted(closure("defs_agent_win.ps1")) == probe
    assert {"SmsmseEngineApply.cs", "SmsmseEngineFetch.cs"} <= set(closure("defs_agent_win_change.ps1"))
    # the engine finds the change code at run time, by name, only for the operations that change
    engine = SOURCES["SmsmseEngine.cs"].decode()
    assert 'ApplyType = "ansible_collections.mailsec.smsmse.plugins.module_utils.SmsmseEngineApply.Apply"' in engine


def test_the_collection_ships_little_powershell() -> None:
    shipped = [p for p in (ROOT / "plugins").rglob("*") if p.suffix in (".ps1", ".psm1")]
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in shipped)
    assert lines <= MAX_POWERSHELL_LINES, f"{lines} lines of PowerShell in {sorted(p.name for p in shipped)}"


@pytest.mark.parametrize("name", list(AGENTS))
def test_agent_is_an_ansible_basic_module(name: str) -> None:
    text = SOURCES[name].decode()
    assert text.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in text
    assert "$module.FailJson(" in text and ", $_)" in text and "$module.ExitJson()" in text
    for shipped in PS_FILES:
        assert b"\r" not in SOURCES[shipped]


@pytest.mark.parametrize("name", CS_FILES)
def test_csharp_namespace_is_the_util_name(name: str) -> None:
    # Ansible finds a C# util by its namespace: ansible_collections.<ns>.<coll>.plugins.module_utils.<File>
    text = SOURCES[name].decode()
    assert f"namespace {PREFIX}{name[:-3]}\n" in text


@pytest.mark.parametrize("name", list(AGENTS))
def test_agent_offers_its_operations(name: str) -> None:
    operations, documentation = AGENTS[name]
    choices = re.search(r"op = @\{[^}]*choices = @\(([^)]*)\)", SOURCES[name].decode())
    assert choices is not None
    assert [c.strip().strip("'") for c in choices.group(1).split(",") if c.strip()] == list(operations)
    assert argspec.documented_options(documentation)["op"]["choices"] == list(operations)


def test_the_agents_offer_every_operation_once() -> None:
    served = [op for operations, _documentation in AGENTS.values() for op in operations]
    assert sorted(served) == sorted(OPERATIONS)
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


# --- state across calls (review 16: a PSRP runspace is reused; compiled types and their statics live on) ---

STATIC_FIELD = re.compile(r"(?m)^\s*(?:private|public|internal) static (readonly )?(?!class\b)[\w<>\[\], ]+? (\w+)\s*(?:=|;)")


def static_caches(text: str) -> list[str]:
    """Static fields that hold what one call learnt: assignable ones, and read-only collections that are filled later."""
    found = []
    for readonly, name in STATIC_FIELD.findall(re.sub(r"(?m)//.*$", "", text)):
        if not readonly:
            found.append(f"{name}: a static field that is not read-only")
        elif re.search(rf"\b{name}\[[^\]]*\]\s*=[^=]|\b{name}\.(?:Add|Remove|Clear)\(", text):
            found.append(f"{name}: a static collection filled by a call")
    return found


@pytest.mark.parametrize("name", CS_FILES)
def test_no_static_cache_outlives_a_call(name: str) -> None:
    assert static_caches(SOURCES[name].decode()) == []


def test_the_static_cache_check_sees_one() -> None:
    members = "        private static HashSet<string> members;\n"
    journals = (
        "        private static readonly Dictionary<string, ulong> Journals = new Dictionary<string, ulong>();\n"
        "        void F() { Journals[volume] = id; }\n"
    )
    table = '        private static readonly string[] Words = { "a" };\n        private const int X = 1;\n'
    assert static_caches(members) == ["members: a static field that is not read-only"]
    assert static_caches(journals) == ["Journals: a static collection filled by a call"]
    assert static_caches(table) == []
