"""The Windows agent, checked without PowerShell: syntax, PowerShell 5.1 only, and the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.modules.defs_agent_win import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import argspec, contract

from . import ps_static

AGENT = Path(__file__).resolve().parents[2] / "plugins" / "modules" / "defs_agent_win.ps1"
SOURCE = AGENT.read_bytes()


def test_agent_parses_without_errors() -> None:
    assert [str(f) for f in ps_static.syntax_errors(SOURCE)] == []


def test_agent_uses_no_powershell_7_syntax() -> None:
    assert [str(f) for f in ps_static.ps7_constructs(SOURCE)] == []


def test_agent_is_an_ansible_basic_module() -> None:
    text = SOURCE.decode()
    assert text.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in text
    assert "$module.FailJson(" in text and "$module.ExitJson()" in text
    assert "\r" not in text


def test_agent_handles_every_operation() -> None:
    assert ps_static.switch_labels(SOURCE) >= set(contract.OPERATIONS)
    choices = re.search(r"op = @\{[^}]*choices = @\(([^)]*)\)", SOURCE.decode())
    assert choices is not None
    assert {c.strip().strip("'") for c in choices.group(1).split(",")} == set(contract.OPERATIONS)
    assert argspec.documented_options(DOCUMENTATION)["op"]["choices"] == list(contract.OPERATIONS)


@pytest.mark.parametrize("op", contract.OPERATIONS)
def test_agent_produces_every_reply_field(op: str) -> None:
    missing = ps_static.schema_property_names(contract.schema(op, "reply")) - ps_static.produced_fields(SOURCE)
    assert missing - WINDOWS_PENDING == set()


#: optional probe fields the POSIX agent sends and the Windows agent does not yet: escaped names (``escaped``),
#: entries left out of a crowded store (``omitted``, ``names``), what definfo.dat is (``kind``). Remove each
#: name here when the Windows agent sends it.
WINDOWS_PENDING = frozenset({"escaped", "omitted", "names", "kind"})


#: request fields for POSIX hosts only: Windows reads the product from the registry and events from the log,
#: writes its events to the Application log, restarts a service rather than a command, and locks with a handle
POSIX_ONLY = ("product", "events_file", "command", "lock_stale_seconds")


@pytest.mark.parametrize("op", contract.OPERATIONS)
def test_agent_reads_every_request_field(op: str) -> None:
    request = dict(contract.schema(op, "request"))
    request["properties"] = {k: v for k, v in request["properties"].items() if k not in POSIX_ONLY}
    fields = ps_static.schema_property_names(request) - set(POSIX_ONLY)
    text = ps_static.code_only(SOURCE)
    unread = [name for name in sorted(fields) if not re.search(rf"\.{name}\b", text)]
    assert unread == []


# --- the checks themselves must catch what they are for ---


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


def test_contract_checks_catch_a_missing_field() -> None:
    keys = ps_static.hashtable_keys(b"$r = @{ contract = 1; 'op' = 'probe' }")
    assert keys == {"contract", "op"}
    assert "events_error" in ps_static.schema_property_names(contract.schema("probe", "reply")) - keys
