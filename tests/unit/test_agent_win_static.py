"""The Windows agent, checked without PowerShell: syntax, PowerShell 5.1 only, the contract, and each defect of issue 13.

The agent is ``plugins/modules/defs_agent_win.ps1`` plus the module utils it requires
(``plugins/module_utils/Smsmse*.psm1`` and the C# ``Store*.cs``). The C#'s logic runs
under mono in ``test_csharp.py``; here the PowerShell is parsed with tree-sitter and held
to the contract (``schemas/agent/``, ``tests/contract/apply_cases.yml``) and to the rules
each defect of issue 13 broke. Every rule is also shown to catch the code it replaced.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.mailsec.smsmse.plugins.module_utils import scan
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
APPLY = SOURCES["SmsmseApply.psm1"]


@cache
def schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def apply_ops() -> list[str]:
    return list(schema("apply.request.json")["$defs"]["step"]["properties"]["op"]["enum"])


def reply_results() -> dict[str, set[str]]:
    """op -> the results apply.reply.json allows for it."""
    results = {}
    for rule in schema("apply.reply.json")["$defs"]["step"]["allOf"]:
        op = rule["if"]["properties"]["op"]["const"]
        results[op] = set(rule["then"]["properties"]["result"]["enum"])
    return results


def changes_table() -> dict[str, set[str]]:
    """op -> results besides done, from the primitives table of docs/changes.md."""
    table = {}
    for line in (ROOT / "docs" / "changes.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`\w+`", cells[0]):
            table[cells[0].strip("`")] = set(re.findall(r"`(\w+)`", cells[3]))
    return table


def step_results_table() -> dict[str, set[str]]:
    """The agent's ``$script:StepResults`` table: op -> results besides done, skipped and failed."""
    text = APPLY.decode()
    body = re.search(r"\$script:StepResults = @\{(.*?)\n\}", text, re.S)
    assert body is not None
    return {op: set(re.findall(r"'(\w+)'", values)) for op, values in re.findall(r"(?m)^\s*(\w+) = @\(([^)]*)\)", body.group(1))}


# --- syntax and module shape ---


@pytest.mark.parametrize("name", PS_FILES)
def test_parses_without_errors(name: str) -> None:
    assert [str(f) for f in ps_static.syntax_errors(SOURCES[name])] == []


@pytest.mark.parametrize("name", PS_FILES)
def test_uses_no_powershell_7_syntax(name: str) -> None:
    assert [str(f) for f in ps_static.ps7_constructs(SOURCES[name])] == []


def test_the_agent_ships_its_module_utils() -> None:
    assert PS_FILES == ["SmsmseApply.psm1", "SmsmseProbe.psm1", "SmsmseStore.psm1", "defs_agent_win.ps1"]
    assert CS_FILES == ["StoreNative.cs", "StorePolicy.cs"]


def test_agent_is_an_ansible_basic_module() -> None:
    text = SOURCES["defs_agent_win.ps1"].decode()
    assert text.startswith("#!powershell\n")
    assert "#AnsibleRequires -CSharpUtil Ansible.Basic" in text
    assert "[Ansible.Basic.AnsibleModule]::Create($args, $spec)" in text
    assert "$module.FailJson(" in text and ", $_)" in text and "$module.ExitJson()" in text
    for name in PS_FILES:
        assert b"\r" not in SOURCES[name]


@pytest.mark.parametrize("name", [n for n in PS_FILES if n.endswith(".psm1")])
def test_module_utils_export_what_others_call(name: str) -> None:
    text = SOURCES[name].decode()
    exported = re.search(r"Export-ModuleMember -Function (.*)", text, re.S)
    assert exported is not None, f"{name} exports nothing"
    names = set(re.findall(r"[A-Z]\w+-\w+", exported.group(1)))
    defined = set(ps_static.functions(SOURCES[name]))
    assert names <= defined
    others = b"".join(SOURCES[n] for n in PS_FILES if n != name)
    called_here = {f for f in defined if re.search(rf"(?<![\w-]){re.escape(f)}\b", ps_static.code_only(others))}
    assert called_here <= names, f"{name}: called elsewhere but not exported: {called_here - names}"


@pytest.mark.parametrize("name", CS_FILES)
def test_csharp_namespace_is_the_util_name(name: str) -> None:
    # Ansible finds a C# util by its namespace: ansible_collections.<ns>.<coll>.plugins.module_utils.<File>
    text = SOURCES[name].decode()
    assert f"namespace {PREFIX}{name[:-3]}\n" in text


def test_agent_offers_the_operations() -> None:
    choices = re.search(r"op = @\{[^}]*choices = @\(([^)]*)\)", SOURCES["defs_agent_win.ps1"].decode())
    assert choices is not None
    assert [c.strip().strip("'") for c in choices.group(1).split(",")] == list(OPERATIONS)
    assert ps_static.switch_labels(SOURCES["defs_agent_win.ps1"]) == set(OPERATIONS)
    assert argspec.documented_options(DOCUMENTATION)["op"]["choices"] == list(OPERATIONS)


# --- the apply contract ---


def test_every_primitive_is_executed() -> None:
    labels = ps_static.switch_labels(APPLY)
    assert set(apply_ops()) <= labels
    assert set(changes_table()) <= labels
    assert set(step_results_table()) == set(apply_ops())


def test_each_primitive_reports_exactly_the_results_the_reply_allows() -> None:
    allowed = reply_results()
    table = step_results_table()
    for op in apply_ops():
        assert table[op] | COMMON_RESULTS | {"skipped"} == allowed[op], op
        # and the prose table of docs/changes.md says the same
        assert table[op] <= changes_table()[op] | {"in_use"}, op


def cases() -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    return list(loaded["cases"])


def test_every_result_and_code_of_the_case_table_is_handled() -> None:
    table = step_results_table()
    literals = {text for _line, text in ps_static.string_literals(APPLY)}
    seen_codes = set()
    for case in cases():
        assert len(case["expect"]) == len(case["steps"]), case["name"]
        for step, expected in zip(case["steps"], case["expect"], strict=True):
            result, _colon, code = str(expected).partition(":")
            assert result in table[step["op"]] | COMMON_RESULTS, (case["name"], step["op"], result)
            if code:
                seen_codes.add(code)
                assert code in literals, f"{case['name']}: the agent never reports code {code}"
    assert seen_codes, "the case table names no codes: is it the right file?"


def request_fields() -> set[str]:
    return ps_static.schema_property_names(schema("apply.request.json")) | ps_static.schema_property_names(schema("wire.json"))


#: request fields the Windows agent does not act on, and why
NOT_READ = {"commit": "the controller's marker of the commit point; every step is executed the same way"}
#: apply fields of the contract the POSIX agent reads or sends and the Windows agent does not yet (docs/changes.md):
#: what lstat sees at definfo.dat (expect, write_pointer); fetch's transfer options and data (the Windows agent refuses
#: fetch with NOT_SUPPORTED, docs/windows.md); the read of every store a change touched, at the end of the same call
#: (read_back: each store's pointer, sets and active set); the exchange's compare-and-swap on folder b (expect_b).
#: Remove each name here when the Windows agent has it.
APPLY_WINDOWS_PENDING = frozenset(
    {
        "definfo_kind",
        "expect_kind",
        "kind",
        "timeout_seconds",
        "deadline_seconds",
        "validate_certs",
        "ca_path",
        "bytes_fetched",
        "files_fetched",
        "read_back",
        "expect_b",
    }
)
#: parts of apply.reply.json the Windows agent does not produce yet: the read of every store a change touched
#: (``read_back``, with its definitions). Remove each when the Windows agent sends it.
APPLY_REPLY_WINDOWS_PENDING = {"properties": ("read_back",), "$defs": ("read_store", "read_definfo", "read_file")}


def reply_schema_without_pending() -> dict[str, Any]:
    """apply.reply.json without the parts of APPLY_REPLY_WINDOWS_PENDING (their field names are checked nowhere else)."""
    reply = json.loads(json.dumps(schema("apply.reply.json")))
    for part, names in APPLY_REPLY_WINDOWS_PENDING.items():
        for name in names:
            del reply[part][name]
    return dict(reply)


def test_apply_reads_every_request_field() -> None:
    read = set().union(*(ps_static.read_fields(SOURCES[n]) for n in PS_FILES))
    assert sorted(request_fields() - set(NOT_READ) - APPLY_WINDOWS_PENDING - read) == []
    assert set(NOT_READ) <= request_fields()


def step_function(op: str) -> str:
    return "Invoke-" + "".join(part.capitalize() for part in op.split("_")) + "Step"


@pytest.mark.parametrize("op", apply_ops())
def test_each_primitive_reads_its_own_arguments(op: str) -> None:
    # parity with the contract per primitive: the function that executes op reads every argument op has
    body = ps_static.functions(APPLY)[step_function(op)]
    arguments = set(schema("apply.request.json")["$defs"][f"args_{op}"]["properties"])
    assert sorted(arguments - APPLY_WINDOWS_PENDING - ps_static.read_fields(body)) == []


@pytest.mark.parametrize("op", apply_ops())
def test_each_primitive_produces_its_own_data(op: str) -> None:
    body = ps_static.functions(APPLY)[step_function(op)]
    data = set(schema("apply.reply.json")["$defs"][f"data_{op}"]["properties"])
    assert sorted(data - APPLY_WINDOWS_PENDING - ps_static.produced_fields(body)) == []


def test_apply_produces_every_reply_field() -> None:
    produced = ps_static.produced_fields(APPLY)
    assert sorted(ps_static.schema_property_names(reply_schema_without_pending()) - APPLY_WINDOWS_PENDING - produced) == []


def test_nothing_pending_is_already_there() -> None:
    # a name stays in APPLY_WINDOWS_PENDING only while the Windows executor lacks it (the probe's own fields, such as
    # definfo.dat's `kind`, live in SmsmseProbe.psm1 and do not count)
    assert sorted(APPLY_WINDOWS_PENDING & (ps_static.read_fields(APPLY) | ps_static.produced_fields(APPLY))) == []


#: optional probe fields the POSIX agent sends and the Windows agent does not yet (a hash cache refused as writable by
#: others: the Windows agent checks its cache folder's owner and DACL instead; a store's path with its links and
#: junctions resolved, real_path). Remove each name when it sends it.
WINDOWS_PENDING = frozenset({"cache_refused", "real_path"})
OTHER_OPERATIONS = [("probe", ("SmsmseProbe.psm1", "SmsmseStore.psm1")), ("run_liveupdate", ("defs_agent_win.ps1",))]


@pytest.mark.parametrize(("op", "files"), OTHER_OPERATIONS)
def test_other_operations_read_and_produce_their_fields(op: str, files: tuple[str, ...]) -> None:
    source = b"".join(SOURCES[f] for f in files)
    request = ps_static.schema_property_names(schema(f"{op}.request.json")) | ({"max_age_seconds"} if op == "probe" else set())
    assert sorted(request - ps_static.read_fields(source)) == []
    reply_name = {"probe": "probe.reply.json", "run_liveupdate": "run_liveupdate.reply.json"}[op]
    assert sorted(ps_static.schema_property_names(schema(reply_name)) - WINDOWS_PENDING - ps_static.produced_fields(source)) == []


#: the probe's bounds (SmsmseProbe.psm1) -> (where probe.reply.json sets them, the POSIX agent's constant in scan.py)
PROBE_BOUNDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "MaxEntries": (("$defs/store/properties/dirs/maxItems", "$defs/store/properties/files/maxItems"), "MAX_ENTRIES"),
    "MaxName": (("$defs/name/maxLength",), "MAX_NAME"),
    "MaxPath": (("$defs/relpath/maxLength",), None),
    "MaxOmittedNames": (("$defs/store/properties/omitted/properties/names/maxItems",), "MAX_OMITTED_NAMES"),
    "MaxText": (("$defs/dir/properties/error/maxLength", "$defs/store/properties/error/maxLength"), None),
    "MaxDefinfoHash": ((), "MAX_DEFINFO_HASH"),
}


@pytest.mark.parametrize("name", sorted(PROBE_BOUNDS))
def test_probe_bounds_are_the_contracts(name: str) -> None:
    found = re.search(rf"(?m)^\$script:{name} = (\d+)$", SOURCES["SmsmseProbe.psm1"].decode())
    assert found is not None, f"SmsmseProbe.psm1 does not set $script:{name}"
    pointers, posix = PROBE_BOUNDS[name]
    for pointer in pointers:
        node: Any = schema("probe.reply.json")
        for part in pointer.split("/"):
            node = node[part]
        assert int(found.group(1)) == node, pointer
    if posix is not None:
        assert int(found.group(1)) == getattr(scan, posix), posix


def wire_literals() -> set[str]:
    return {spec["const"] for spec in schema("wire.json")["properties"].values() if isinstance(spec.get("const"), str)}


#: (file, literal): the probe's pointer and usage file names until the probe request carries the wire constants
WIRE_LITERAL_EXCEPTIONS = {("SmsmseProbe.psm1", "definfo.dat"), ("SmsmseProbe.psm1", "usage.dat")}


@pytest.mark.parametrize("name", PS_FILES + CS_FILES)
def test_no_wire_constant_is_written_into_the_agent(name: str) -> None:
    text = SOURCES[name].decode()
    code = text if name.endswith(".cs") else None
    found = []
    for literal in sorted(wire_literals()):
        if (name, literal) in WIRE_LITERAL_EXCEPTIONS:
            continue
        if code is not None:
            hits = [line for line in code.splitlines() if f'"{literal}' in line and not line.lstrip().startswith("//")]
        else:
            hits = [str(line) for line, s in ps_static.string_literals(SOURCES[name]) if literal in s]
        if hits:
            found.append((literal, hits))
    assert found == []


def test_wire_literal_check_catches_a_prefix() -> None:
    snippet = b"$staging = [System.IO.Path]::Combine($Store, ('.smsmse-staging-{0}' -f $v))\n"
    assert any(".smsmse-staging-" in s for _line, s in ps_static.string_literals(snippet))


# --- the defects of issue 13, one rule each ---


@dataclass(frozen=True)
class Rule:
    """Code the agent must not hold (``forbid``) or must hold (``require``: (file, pattern))."""

    defect: str
    why: str
    forbid: tuple[str, ...] = ()
    require: tuple[tuple[str, str], ...] = ()
    #: code the rule replaced (from the agent before the fix): the rule must reject it
    before: dict[str, str] = field(default_factory=dict)
    #: forbid patterns are matched in code (strings and comments blanked) unless raw
    raw: bool = False


def violations(rule: Rule, sources: dict[str, bytes]) -> list[str]:
    found = []
    for name, source in sources.items():
        if name.endswith(".cs"):
            text = re.sub(r"(?m)//.*$", "", source.decode())
        else:
            text = source.decode() if rule.raw else ps_static.code_only(source)
        for pattern in rule.forbid:
            for match in re.finditer(pattern, text):
                found.append(f"{name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}")
    for name, pattern in rule.require:
        if name not in sources or not re.search(pattern, sources[name].decode()):
            found.append(f"{name}: missing {pattern!r}")
    return found


RULES = [
    Rule(
        "1",
        "never recurse through a reparse point: trees go only through Tree.Remove (C#, mono-tested), which removes a link itself",
        forbid=(r"(?i)Remove-Item\b[^\n]*-Recurse", r"::Delete\([^)\n]*,\s*\$true\)", r"(?i)\bFunction\s+Remove-Tree\b"),
        require=(("SmsmseApply.psm1", r"\$script:Native::RemoveTree\("), ("StoreNative.cs", r"Tree\.Remove\(new TreeFs\(\)")),
        before={
            "SmsmseApply.psm1": (
                "Function Remove-Tree {\n    param([string]$Path)\n    $top = New-Object System.IO.DirectoryInfo $Path\n}\n"
            )
        },
    ),
    Rule(
        "2",
        "the commit point: after a required step fails only 'always' steps run, each step reports its own outcome,"
        " and write_pointer reports the digest read back",
        forbid=(r"(?i)\bInvoke-(InstallSet|SetPointer)\b", r"(?i)Complete-ChangeFailure"),
        require=(
            ("SmsmseApply.psm1", r"if \(\$null -ne \$halted -and -not \[bool\]\$step\.always\)"),
            ("SmsmseApply.psm1", r"if \(\[bool\]\$step\.required -and \$reply\.result -ne 'done' -and \$null -eq \$halted\) \{"),
            ("SmsmseApply.psm1", r"\$sha = Get-DefinfoDigest -Path \$definfo\n[^\n]*\n\s+catch \{\n\s+\$Context\.warnings\.Add"),
        ),
        before={"SmsmseApply.psm1": "Function Invoke-InstallSet {\n    Complete-ChangeFailure -Outcome $outcome -ErrorRecord $_\n}\n"},
    ),
    Rule(
        "3",
        "cleanup is best-effort per leftover: each is removed on its own, what remains is reported after the loop",
        require=(
            (
                "SmsmseApply.psm1",
                (
                    r"\$left = Remove-Leftover -Path \$item\.FullName -RetrySeconds \$Context\.retry\n\s+\}\n"
                    r"\s+catch \{\n\s+\$left = @\(\$item\.FullName\)"
                ),
            ),
            ("SmsmseApply.psm1", r"\$data = @\{ removed = .*\n\s+if \(\$remaining\.Count -gt 0\) \{\n\s+throw"),
        ),
        before={"SmsmseApply.psm1": "foreach ($item in $items) {\n    Remove-Tree -Path $item.FullName\n    $cleaned.Add($item.Name)\n}\n"},
    ),
    Rule(
        "4",
        "errors are mapped by HResult (StorePolicy.Win32Error), a source purged mid-copy is source_changed,"
        " and a cleanup failure never replaces the original outcome",
        forbid=(r"-is \[System\.IO\.IOException\]",),
        require=(
            ("SmsmseApply.psm1", r"\$script:Win32::Describe\(\$Exception, \$What, \$MaxMessage\)"),
            (
                "SmsmseApply.psm1",
                (
                    r"if \(-not \[System\.IO\.File\]::Exists\(\$src\)\) \{"
                    r"\n\s+throw \(New-StepOutcome -Result 'source_changed'"
                ),
            ),
            ("SmsmseApply.psm1", r"\$original = \$_\n\s+try \{\n\s+\$left = Remove-Leftover -Path \$target"),
            ("SmsmseApply.psm1", r"throw \$original"),
        ),
        before={"SmsmseApply.psm1": "if ((Get-InnermostException -Exception $_.Exception) -is [System.IO.IOException]) { }\n"},
    ),
    Rule(
        "5",
        "every rename, replace and MoveFileEx goes through StoreNative, which retries Win32 5, 32 and 145",
        forbid=(
            r"\[System\.IO\.(Directory|File)\]::(Move|Replace)\(",
            r"(?i)\b(Rename-Item|Move-Item)\b",
            r"::MoveReplace\(",
            r"\.MoveTo\(",
        ),
        require=(
            (
                "StorePolicy.cs",
                (
                    r"return code == Win32Error\.AccessDenied \|\| "
                    r"code == Win32Error\.SharingViolation \|\| code == Win32Error\.DirNotEmpty;"
                ),
            ),
        ),
        before={"SmsmseApply.psm1": "[System.IO.Directory]::Move($staged.path, $target)\n$Native::MoveReplace($tmp, $definfo)\n"},
    ),
    Rule(
        "6",
        "reads share ReadWrite and Delete (never blocking LiveUpdate's purge or the product's copy) and report a file that changed",
        forbid=(r"\[System\.IO\.FileShare\]::Read\b(?!Write)", r"\[System\.IO\.File\]::ReadAllBytes\("),
        require=(
            ("StoreNative.cs", r"FileShare\.ReadWrite \| FileShare\.Delete"),
            ("StoreNative.cs", r"result\.Changed = !before\.SameAs\(after\)"),
            ("SmsmseProbe.psm1", r"if \(\$digest\.changed\) \{ \$record\.changed = \$true \}"),
        ),
        before={
            "SmsmseStore.psm1": (
                "$stream = New-Object System.IO.FileStream -ArgumentList @($f, "
                "[System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)\n"
            )
        },
    ),
    Rule(
        "7",
        "the service is controlled by its exact name (a ServiceController, never Get-Service -Name, which takes wildcards)"
        " with System.ServiceProcess loaded, a missing service is SERVICE_NOT_FOUND, the timeout from the step",
        forbid=(r"(?i)\bGet-Service\b", r"FromSeconds\(120\)"),
        require=(
            ("SmsmseApply.psm1", r"(?m)^Add-Type -AssemblyName System\.ServiceProcess$"),
            ("SmsmseApply.psm1", r"\$service = New-Object -TypeName System\.ServiceProcess\.ServiceController -ArgumentList \$Name"),
            (
                "SmsmseApply.psm1",
                r"\$service\.Refresh\(\)\n\s+\$null = \$service\.Status\n\s+\}\n\s+catch \{\n"
                r"\s+throw \(New-StepOutcome -Result 'failed' -Code 'SERVICE_NOT_FOUND'",
            ),
            ("SmsmseApply.psm1", r"FromSeconds\(\[int\]\$Arguments\.timeout\)"),
        ),
        before={"SmsmseApply.psm1": "$service = Get-Service -Name $name -ErrorAction SilentlyContinue\n"},
    ),
    Rule(
        "8",
        "an unregistered event source (NoMatchingProvidersFound) means no events",
        require=(("SmsmseProbe.psm1", r"\$id -like 'NoMatchingProvidersFound\*'"),),
        before={"SmsmseProbe.psm1": "if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') { }\n"},
    ),
    Rule(
        "10",
        "the hash cache folder is secured (protected DACL, trusted owner, no reparse point) before a digest in it is trusted",
        require=(
            ("SmsmseStore.psm1", r"\$reason = \$script:CacheFolder::Ensure\(\$CacheDir, \$Create\)"),
            ("SmsmseStore.psm1", r"if \(-not \$script:CacheFolder::TrustedFile\(\$cache\.path\)\)"),
            ("StoreNative.cs", r"security\.SetAccessRuleProtection\(true, false\)"),
            # the rule itself (owner, reparse point, writers at every level) is StorePolicy.Privacy, mono-tested
            ("StorePolicy.cs", r"problems\.Add\(Problem\(level\.Path, \"owner\", level\.OwnerSid, null\)\);"),
            ("StorePolicy.cs", r"problems\.Add\(Problem\(level\.Path, \"reparse\", null, null\)\);"),
            ("StoreNative.cs", r"List<PrivacyProblem> problems = Privacy\.Problems\(levels, trusted\);"),
        ),
        before={
            "SmsmseStore.psm1": ("if ([System.IO.File]::Exists($cache.path)) { $loaded = [System.IO.File]::ReadAllText($cache.path) }\n")
        },
    ),
    Rule(
        "11",
        "SHA-256 from CNG (the CSP under the FIPS policy), never the managed SHA256.Create()",
        forbid=(r"SHA256\]::Create\(\)", r"SHA256\.Create\(\)", r"SHA256Managed"),
        require=(
            (
                "StorePolicy.cs",
                (
                    r"if \(CryptoConfig\.AllowOnlyFipsAlgorithms\)\n\s+\{\n\s+"
                    r"return new SHA256CryptoServiceProvider\(\);\n\s+\}\n\s+return new SHA256Cng\(\);"
                ),
            ),
        ),
        before={"SmsmseStore.psm1": "$sha = [System.Security.Cryptography.SHA256]::Create()\n"},
    ),
    Rule(
        "12",
        (
            "LuALL.exe: arguments quoted by the Windows rules, output tail captured,"
            " the process tree stopped without failing, messages bounded"
        ),
        forbid=(r"-join ' '", r"\$process\.Kill\(\)"),
        require=(
            ("defs_agent_win.ps1", r"\$run = \$Processes::Run\(\$program, \$arguments, \[int\]\$Request\.timeout, \$MaxOutput\)"),
            ("defs_agent_win.ps1", r"\$reply\.output = \$Text::Head\(\('LuALL\.exe was not found"),
            ("StoreNative.cs", r"new ProcessStartInfo\(program, CommandLine\.Join\(arguments\)\)"),
            ("StoreNative.cs", r"start\.RedirectStandardOutput = true;"),
            ("StoreNative.cs", r"KillTree\(process\);"),
        ),
        before={
            "defs_agent_win.ps1": (
                "$start.Arguments = (@($Request.arguments) | ForEach-Object { [string]$_ }) -join ' '\n$process.Kill()\n"
            )
        },
    ),
    Rule(
        "13",
        "definfo.dat replaced with ReplaceFile (ACL and attributes kept, read-only handled); Get-Product survives a bad subkey;"
        " free space by GetDiskFreeSpaceEx; ordinal sorting",
        forbid=(r"(?i)\bSort-Object\b", r"System\.IO\.DriveInfo", r"::MoveReplace\("),
        require=(
            ("SmsmseApply.psm1", r"\$script:Native::Replace\(\$definfo, \$tmp, \$Context\.retry\)"),
            ("StoreNative.cs", r"ReplaceFile\(target, replacement, null, REPLACEFILE_IGNORE_MERGE_ERRORS"),
            ("StoreNative.cs", r"PointerReplace\.Replace\(new PointerFs\(\), target, replacement, retrySeconds\)"),
            ("StorePolicy.cs", r"if \(readOnly && fs\.Exists\(target\)\)\n\s+\{\n\s+int restored = fs\.SetReadOnly\(target, true\);"),
            ("StoreNative.cs", r"GetDiskFreeSpaceEx\(folder"),
            ("SmsmseProbe.psm1", r"catch \{\n\s+continue\n\s+\}"),
            ("SmsmseStore.psm1", r"\[System\.StringComparer\]::Ordinal\)"),
        ),
        before={
            "SmsmseProbe.psm1": (
                "$drive = New-Object -TypeName System.IO.DriveInfo -ArgumentList $root\n"
                "$c = @($top.GetFileSystemInfos() | Sort-Object -Property Name)\n"
            )
        },
    ),
    Rule(
        "probe-names",
        "every name and error the probe sends goes through StorePolicy.Wire (mono-tested): an unpaired surrogate is"
        " escaped and the record marked, never sent as another name",
        forbid=(r"(?m)^\s*(name|path) = \$(item\.Name|RelativePath)\s*$", r"\$(store|record)\.error = \$script:Text::Head\("),
        require=(
            ("SmsmseProbe.psm1", r"Set-WireName -Record \$record -Field 'path' -Name \$RelativePath -Limit \$script:MaxPath"),
            ("SmsmseProbe.psm1", r"Set-WireName -Record \$record -Field 'name' -Name \$Item\.Name -Limit \$script:MaxName"),
            ("SmsmseProbe.psm1", r"\$omittedNames\.Add\(\$script:Wire::Escape\(\$folders\[\$index\]\.Name, \$script:MaxName\)\.Text\)"),
            ("SmsmseProbe.psm1", r"if \(\$wire\.Escaped\) \{ \$Record\.escaped = \$true \}"),
            ("StorePolicy.cs", r"else if \(char\.IsSurrogate\(c\)\)"),
        ),
        before={
            "SmsmseProbe.psm1": (
                "    $record = @{\n        path = $RelativePath\n    }\n"
                "$store.error = $script:Text::Head(('{0}: {1}' -f $_.Exception.GetType().Name, $_.Exception.Message), $script:MaxText)\n"
            )
        },
    ),
    Rule(
        "probe-folders",
        "one unreadable set folder carries its own error; a crowded store lists sets first and says what it left out",
        require=(
            (
                "SmsmseProbe.psm1",
                r"\$record\.truncated = \[bool\]\$listing\.truncated\n\s+\}\n\s+catch \{\n\s+\$record\.error = Format-ProbeError",
            ),
            ("SmsmseProbe.psm1", r"\$bounded = \$script:Listing::Bound\(\$names, \$script:MaxEntries\)"),
            ("SmsmseProbe.psm1", r"foreach \(\$index in \$bounded\.Kept\)"),
        ),
        before={
            "SmsmseProbe.psm1": (
                "foreach ($item in (Get-SortedChild -Folder $top)) {\n"
                "    $listing = Get-RelativeFile -Top $item -Limit $Limits.max_files_per_dir\n}\n"
            )
        },
    ),
    Rule(
        "probe-definfo",
        "definfo.dat: what it is from its own attributes, read on a handle that never follows a link, hashed when too large to carry",
        forbid=(r"Read-SharedFile -Path \$Path -MaxBytes \$MaxBytes",),
        require=(
            ("SmsmseProbe.psm1", r"\$read = \$script:Native::ReadDefinfo\(\$Path, \[int\]\$MaxBytes, \$script:MaxDefinfoHash\)"),
            ("SmsmseProbe.psm1", r"\$record\.kind = \$read\.Kind"),
            ("StoreNative.cs", r"record\.Kind = KindOf\(path\);"),
            ("StoreNative.cs", r"OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT \| FILE_FLAG_SEQUENTIAL_SCAN"),
            ("StoreNative.cs", r"record\.Kind = Kinds\.Of\(\(FileAttributes\)info\.FileAttributes\);"),
            ("StorePolicy.cs", r"if \(\(attributes & FileAttributes\.ReparsePoint\) != 0\)\n\s+\{\n\s+return \"link\";"),
        ),
        before={
            "SmsmseProbe.psm1": (
                "    if ((Test-ReparsePoint -Item $info) -or $info.Length -gt $MaxBytes) { return $record }\n"
                "    $bytes = Read-SharedFile -Path $Path -MaxBytes $MaxBytes\n"
            )
        },
    ),
    Rule(
        "versions",
        "version names are ASCII [0-9]{8}.[0-9]{3} (StorePolicy.Names.IsVersion, mono-tested): no \\d in the agent's patterns",
        forbid=(r"\\d",),
        require=(("SmsmseApply.psm1", r"if \(-not \$script:Names::IsVersion\(\$Name\)\)"),),
        before={"SmsmseApply.psm1": "if ($Name -notmatch '^\\d{8}\\.\\d{3}$') { }\n"},
        raw=True,
    ),
    Rule(
        "cache-v3",
        "hash cache v3 (review 4): size, mtime, file ID and the change stamp (journal ID, USN, change time) must all match,"
        " a file without a USN or a volume without an active journal is never served from the cache, and entries expire",
        forbid=(r"\[long\]\$cached\[2\] -eq \$stamp\.ChangeTime",),
        require=(
            ("SmsmseStore.psm1", r"\$script:CacheVersion = 3"),
            ("SmsmseStore.psm1", r"\$cached\.Count -eq 6"),
            ("SmsmseStore.psm1", r"\[string\]\$cached\[2\] -ceq \$changeStamp"),
            ("SmsmseStore.psm1", r"if \(\$null -ne \$Cache\.journal -and \$stamp\.Usn -ge 0\)"),
            ("SmsmseStore.psm1", r"if \(\$Cache\.use_cached -and \$null -ne \$changeStamp -and"),
            (
                "SmsmseStore.psm1",
                (
                    r"\$cache\.journal = \$script:Native::JournalId\(\$StorePath\)\n\s+\}\n\s+catch \{\n"
                    r"\s+\$cache\.error = 'the hash cache is not used: \{0\}' -f \$_\.Exception\.Message\n\s+\$cache\.use_cached = \$false"
                ),
            ),
            ("StoreNative.cs", r"stamp\.Usn = FileUsn\(handle\);"),
            ("StoreNative.cs", r"FileId == other\.FileId && Usn == other\.Usn;"),
            ("StoreNative.cs", r"FSCTL_READ_FILE_USN_DATA = 0x000900EB;"),
            ("StoreNative.cs", r"FSCTL_QUERY_USN_JOURNAL = 0x000900F4;"),
            ("SmsmseStore.psm1", r"\$script:Expiry::IsFresh\(\$Cache\.now, \[long\]\$cached\[5\], \$Cache\.max_age, \$Path\)"),
            ("SmsmseStore.psm1", r"\$script:DefaultMaxAge = 604800"),
            ("SmsmseProbe.psm1", r"Get-Field -Map \$Hashing -Name 'max_age_seconds' -Default \(Get-DefaultMaxAge\)"),
            ("StoreNative.cs", r"GetFileInformationByHandleEx\(handle, FileBasicInfo, out basic"),
        ),
        before={"SmsmseStore.psm1": "if ($cached.Count -eq 6 -and [long]$cached[2] -eq $stamp.ChangeTime) { }\n"},
    ),
    Rule(
        "not_in_use",
        "preflight asks the Restart Manager who holds a set's files (handles and loaded DLLs alike, review 2), opening none:"
        " anyone is in_use with SET_IN_USE and the holders named",
        forbid=(r"TryOpenExclusive", r"OpenExclusive\(", r"CreateFile\([^)\n]*, 0, IntPtr\.Zero, OPEN_EXISTING"),
        require=(
            ("SmsmseApply.psm1", r"return , \$script:Holders::Names\(\$script:RestartManager::HoldersOf\(\$files\)\)"),
            ("SmsmseApply.psm1", r"-Result 'in_use' -Code 'SET_IN_USE' -Message \$message -Data @\{ checked = \$checked; holders = "),
            ("StoreNative.cs", r"int code = RmStartSession\(out session, 0, key\);"),
            ("StoreNative.cs", r"finally\n\s+\{\n\s+RmEndSession\(session\);"),
            ("StoreNative.cs", r"if \(code != ERROR_MORE_DATA \|\| attempt >= 4\)"),
        ),
        before={
            "SmsmseApply.psm1": "$code = $script:Native::TryOpenExclusive($file.item.FullName)\n",
            "StoreNative.cs": "SafeFileHandle handle = CreateFile(path, access, 0, IntPtr.Zero, OPEN_EXISTING, 0, IntPtr.Zero);\n",
        },
    ),
    Rule(
        "private",
        "review 5: the preflight refuses a store others can change (STORE_NOT_PRIVATE); the quarantine folder is created"
        " or checked like the cache folder; the probe reports both",
        forbid=(r"\[System\.IO\.Directory\]::CreateDirectory\(\$destDir\)",),
        require=(
            ("SmsmseApply.psm1", r"Function Invoke-PreflightStep \{\n[^}]*\n\s+Test-StorePrivate -Store \$Store\n"),
            (  # preflight refuses (the default); clean passes -Result 'failed'
                "SmsmseApply.psm1",
                r"Function Test-StorePrivate \{\n(?:\s+#[^\n]*\n)*\s+param\(\[string\]\$Store, \[string\]\$Result = 'refused'\)",
            ),
            ("SmsmseApply.psm1", r"throw \(New-StepOutcome -Result \$Result -Code 'STORE_NOT_PRIVATE'"),
            (
                "SmsmseApply.psm1",
                r"\$private = \$script:PrivateFolder::Ensure\(\$destDir, \$true, \$null, \$false\)\n"
                r"\s+if \(\$null -ne \$private\) \{\n\s+throw",
            ),
            ("SmsmseProbe.psm1", r"\$store\.privacy = Get-FolderPrivacy -Path \$path"),
            ("SmsmseProbe.psm1", r"\$store\.quarantine_parent = Get-FolderPrivacy -Path \$parent"),
        ),
        before={"SmsmseApply.psm1": "[void][System.IO.Directory]::CreateDirectory($destDir)\n"},
    ),
    Rule(
        "cache-folder",
        "review 11: the cache folder's DACL is changed only where this collection created it (its marker), and nothing is"
        " created or changed in check mode",
        forbid=(r"info\.SetAccessControl\(Protected\(\)\)",),
        require=(
            ("StoreNative.cs", r"if \(!create \|\| !File\.Exists\(markerPath\) \|\| !TrustedFile\(markerPath, trusted\)\)"),
            ("StoreNative.cs", r"if \(!create\)\n\s+\{\n\s+return string\.Format\(\"\{0\} does not exist and is not created in check mode"),
            ("defs_agent_win.ps1", r"Invoke-Probe -Request \$request -CheckMode \$module\.CheckMode"),
            ("SmsmseProbe.psm1", r"-CreateCache \(-not \$CheckMode\)"),
        ),
        before={"StoreNative.cs": "if (!now.AreAccessRulesProtected)\n{\n    info.SetAccessControl(Protected());\n}\n"},
    ),
    Rule(
        "long-paths",
        "review 15: Win32 gets \\\\?\\ paths (LongPath.Of) for tree removal, renames, stamps and reads; no .NET 4.5 path API"
        " that refuses them",
        forbid=(
            r"new DirectoryInfo\(path\)\.GetFileSystemInfos\(\)",
            r"new FileStream\((path|target), FileMode\.",
            r"File\.SetLastWriteTimeUtc\(",
        ),
        require=(
            ("StoreNative.cs", r"GetFileAttributesW\(LongPath\.Of\(path\)\)"),
            ("StoreNative.cs", r"RemoveDirectoryW\(LongPath\.Of\(path\)\)"),
            ("StoreNative.cs", r"string full = LongPath\.Of\(path\);\n\s+if \(clearReadOnly\)"),
            ("StoreNative.cs", r"FindFirstFile\(LongPath\.Of\(path\)"),
            ("StoreNative.cs", r"string from = LongPath\.Of\(source\);"),
            ("StoreNative.cs", r"CreateFile\(LongPath\.Of\(path\), FILE_READ_ATTRIBUTES"),
            ("StoreNative.cs", r"CreateFile\(LongPath\.Of\(path\), access, share"),
        ),
        before={"StoreNative.cs": "foreach (FileSystemInfo item in new DirectoryInfo(path).GetFileSystemInfos())\n"},
    ),
    Rule(
        "liveupdate-verdict",
        "review 16: run_liveupdate reports the exit code (result exited) and the controller judges it; LuALL runs in a"
        " kill-on-close job; the timeout message does not claim to have stopped what Windows started for LuALL",
        forbid=(r"if \(\$run\.ExitCode -eq 0\)", r"\$reply\.result = 'done'"),
        require=(
            ("defs_agent_win.ps1", r"\$reply\.exit_code = \$run\.ExitCode\n\s+\$reply\.result = 'exited'"),
            ("defs_agent_win.ps1", r"may still be running"),
            ("StoreNative.cs", r"limits\.BasicLimitInformation\.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;"),
            ("StoreNative.cs", r"result\.InJob = AssignProcessToJobObject\(job, process\.Handle\);"),
            ("StoreNative.cs", r"using \(JobHandle job = NewKillOnCloseJob\(\)\)"),
        ),
        before={"defs_agent_win.ps1": "$reply.result = 'failed'\nif ($run.ExitCode -eq 0) { $reply.result = 'done' }\n"},
        raw=True,
    ),
    Rule(
        "clean-private",
        "clean checks that only SYSTEM, the Administrators and TrustedInstaller can change the store before it removes or"
        " puts back anything: otherwise another account swaps a leftover for a junction and the delete lands outside",
        require=(
            (
                "SmsmseApply.psm1",
                r"(?s)Function Invoke-CleanStep \{(?:(?!\n\}).)*?Test-StorePrivate -Store \$Store -Result 'failed'"
                r"(?:(?!\n\}).)*?Restore-ExchangeAside",
            ),
        ),
        before={
            "SmsmseApply.psm1": "Function Invoke-CleanStep {\n    $restored = Restore-ExchangeAside -Context $Context\n"
            "    Test-StorePrivate -Store $Store -Result 'failed'\n}\n"
        },
    ),
    Rule(
        "marker-case",
        "stage copies the marker last in the manifest's own spelling, found without case as NTFS finds it:"
        " a manifest's ZDONE.DAT is never dropped",
        forbid=(r"\[string\]\$rel -ne \$marker", r"\$manifest\.ContainsKey\(\$marker\)"),
        require=(
            ("SmsmseApply.psm1", r"\[string\]::Equals\(\[string\]\$rel, \$marker, \[System\.StringComparison\]::OrdinalIgnoreCase\)"),
        ),
        before={"SmsmseApply.psm1": "foreach ($rel in $manifest.Keys) { if ([string]$rel -ne $marker) { $names.Add([string]$rel) } }\n"},
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.defect for r in RULES])
def test_agent_keeps_the_rule(rule: Rule) -> None:
    assert violations(rule, SOURCES) == [], rule.why


@pytest.mark.parametrize("rule", RULES, ids=[r.defect for r in RULES])
def test_rule_rejects_the_code_it_replaced(rule: Rule) -> None:
    before = {name: text.encode() for name, text in rule.before.items()}
    assert violations(rule, before), f"rule {rule.defect} would not have caught: {rule.before}"


def test_every_native_move_is_retried() -> None:
    # defect 5 in the C#: each MoveFileEx and ReplaceFile call sits inside RetryPolicy.Run, or in PointerFs, the
    # file system of StorePolicy.PointerReplace, which retries every call it makes (mono-tested in ReplaceTests.cs)
    text = SOURCES["StoreNative.cs"].decode()
    pointer_fs = re.search(r"private sealed class PointerFs : IReplaceFs\n\s+\{.*?\n        \}\n", text, re.S)
    assert pointer_fs is not None
    outside = text.replace(pointer_fs.group(0), "")
    calls = [line for line in outside.splitlines() if re.search(r"\b(MoveFileEx|ReplaceFile)\(", line) and "extern" not in line]
    assert calls and all("RetryPolicy.Run(" in line for line in calls), calls
    assert text.count("new PointerFs()") == 1 and "PointerReplace.Replace(new PointerFs()" in text
    policy = SOURCES["StorePolicy.cs"].decode()
    replace = policy[policy.index("public static class PointerReplace") :]
    assert replace.count("fs.ReplaceFile(") == replace.count("fs.MoveFile(") == 1
    assert "RetryPolicy.Run(\n                delegate { return fs.ReplaceFile(" in replace
    assert "RetryPolicy.Run(delegate { return fs.MoveFile(" in replace


def test_every_primitive_catches_into_a_step_reply() -> None:
    # a step that raises is never a crash of the agent: Invoke-Step's catch turns it into the step's reply
    body = ps_static.functions(APPLY)["Invoke-Step"].decode()
    assert body.count("switch ($op)") == 1 and "catch {" in body
    assert "return @{ op = $op; result = $result; code = $outcome.code; message = $outcome.message; data = $data }" in body


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
CANNOT_FAIL = frozenset({"GetTickCount64"})


def imports() -> list[tuple[str, str, str, str]]:
    return [m.groups() for m in DLLIMPORT.finditer(SOURCES["StoreNative.cs"].decode())]  # type: ignore[misc]


def test_every_pinvoke_declares_its_character_set_and_error_reporting() -> None:
    found = imports()
    assert len(found) >= 25, "the declaration pattern no longer matches the file"
    problems = []
    for attributes, _returns, name, parameters in found:
        if ("string" in parameters or "StringBuilder" in parameters) and "CharSet = CharSet.Unicode" not in attributes:
            problems.append(f"{name}: strings without CharSet.Unicode (ANSI would mangle non-ASCII paths)")
        if "kernel32" in attributes and name not in CANNOT_FAIL and "SetLastError = true" not in attributes:
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
