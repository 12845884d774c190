"""The C# the Windows agent ships: it compiles at Windows PowerShell 5.1's language level, and its logic runs.

Windows PowerShell 5.1 compiles ``#AnsibleRequires -CSharpUtil`` files with the .NET
Framework's csc at C# 5, warnings as errors. Debian's Mono compiler (``mono-mcs``,
installed by ``scripts/ensure_mcs.sh``) accepts the same language level, so a C# 6
construct or a warning fails here first. The platform-neutral rules (error mapping,
retry policy, command-line quoting, the cache expiry, tree removal) run under mono.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import scan

ROOT = Path(__file__).resolve().parents[2]
UTILS = ROOT / "plugins" / "module_utils"
RUNNER = Path(__file__).resolve().parent / "csharp" / "PolicyTests.cs"
#: what Ansible's Add-CSharpType references by default on .NET Framework (System.Management.Automation aside)
REFERENCES = ("-r:System.dll", "-r:System.Core.dll")
MCS = shutil.which("mcs")
MONO = shutil.which("mono")

needs_mcs = pytest.mark.skipif(MCS is None, reason="mcs is not installed (scripts/ensure_mcs.sh installs Debian's mono-mcs)")
needs_mono = pytest.mark.skipif(MCS is None or MONO is None, reason="mcs or mono is not installed (scripts/ensure_mcs.sh)")


def sources() -> list[Path]:
    return sorted(UTILS.glob("*.cs"))


def mcs(*args: str, out: Path) -> subprocess.CompletedProcess[str]:
    assert MCS is not None
    return subprocess.run(
        [MCS, "-langversion:5", "-warnaserror", "-nologo", *REFERENCES, f"-out:{out}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


def test_there_is_csharp_to_check() -> None:
    assert {p.name for p in sources()} >= {"StoreNative.cs", "StorePolicy.cs"}


@needs_mcs
def test_module_utils_compile_at_csharp_5_without_warnings(tmp_path: Path) -> None:
    # one run with every file, as Ansible compiles a module's C# utils together
    done = mcs("-target:library", *map(str, sources()), out=tmp_path / "utils.dll")
    assert done.returncode == 0, done.stdout + done.stderr


@needs_mcs
def test_the_compile_check_rejects_csharp_6(tmp_path: Path) -> None:
    newer = tmp_path / "Newer.cs"
    newer.write_text('public static class Newer { public static string Hi(int n) { return $"hi {n}"; } }\n')
    done = mcs("-target:library", str(newer), out=tmp_path / "newer.dll")
    assert done.returncode != 0 and "CS1644" in done.stdout + done.stderr


@needs_mcs
def test_the_compile_check_rejects_warnings(tmp_path: Path) -> None:
    warned = tmp_path / "Warned.cs"
    warned.write_text("public static class Warned { public static void F() { int unused = 1; } }\n")
    done = mcs("-target:library", str(warned), out=tmp_path / "warned.dll")
    assert done.returncode != 0


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    if MCS is None or MONO is None:
        pytest.skip("mcs or mono is not installed (scripts/ensure_mcs.sh)")
    out = tmp_path_factory.mktemp("csharp") / "PolicyTests.exe"
    built = mcs(str(UTILS / "StorePolicy.cs"), str(RUNNER), out=out)
    assert built.returncode == 0, built.stdout + built.stderr
    ran = subprocess.run([MONO, str(out)], capture_output=True, text=True, check=False, timeout=120)
    lines = ran.stdout.splitlines()
    found: dict[str, list[str]] = {"ok": [], "FAIL": [], "value": []}
    for line in lines:
        kind, _space, rest = line.partition(" ")
        found.setdefault(kind, []).append(rest)
    found["rc"] = [str(ran.returncode)]
    return found


@needs_mono
def test_policy_checks_pass_under_mono(runner: dict[str, list[str]]) -> None:
    assert runner["FAIL"] == []
    assert runner["rc"] == ["0"]
    # the defects these checks stand for are all exercised
    names = set(runner["ok"])
    for check in (
        "tree_link_target_untouched",  # 1: never recurse through a reparse point
        "tree_held_other_files_removed",  # 3: cleanup best-effort per entry
        "error_missing_folder_failed",  # 4: decided by HResult
        "retry_succeeds_after_filter",  # 5: retries on 5, 32, 145
        "version_fullwidth_refused",  # ASCII version names
        "error_message_bounded",  # messages within the schema's 4096
        "component_device_refused_NUL.txt",  # review 15: device names are never a component
        "component_trailing_refused_a.",  # review 15: nor a name Win32 would rename
        "longpath_over_260",  # review 15: \\?\ paths
        "longpath_dotdot_refused",
        "shortname_seen",  # 8.3 short names are expanded before a store path is reported
        "longpath_plain_unc",
        "usn_rewrite_changes_stamp",  # review 4: the USN is in the cache stamp
        "usn_new_journal_changes_stamp",
        "holders_service_named",  # review 2: the Restart Manager's holders, named
        "privacy_inherited_users_write",  # review 5: %ProgramData%'s Users ACE makes a store not private
        "privacy_default_parents_private",  # ... while Windows' default C:\ and %ProgramData% do not
        "privacy_parent_delete_child",
        "privacy_message_icacls_takes_the_sid",  # review of 19: the fix's icacls command works on any language
        "privacy_message_setowner_takes_the_sid",
        "wire_lone_surrogate_escaped",  # a name that is not text is escaped and marked
        "bound_sets_first",  # a crowded store lists its sets first
        "kind_junction_is_link",  # a junction is a link, never a folder to enter
    ):
        assert check in names


def argv_from_command_line(line: str) -> list[str]:
    """How the Microsoft C runtime splits a command line (after the program name)."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = False
    have_arg = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            n = 0
            while i < len(line) and line[i] == "\\":
                n += 1
                i += 1
            if i < len(line) and line[i] == '"':
                current.append("\\" * (n // 2))
                if n % 2:
                    current.append('"')
                    i += 1
                have_arg = True
            else:
                current.append("\\" * n)
                have_arg = True
            continue
        if c == '"':
            in_quotes = not in_quotes
            have_arg = True
        elif c in " \t" and not in_quotes:
            if have_arg:
                args.append("".join(current))
                current, have_arg = [], False
        else:
            current.append(c)
            have_arg = True
        i += 1
    if have_arg:
        args.append("".join(current))
    return args


ARGUMENTS = ["-s", "", "a b", 'quote"inside', "trail\\", "trail space\\", 'back\\\\"q', "C:\\Program Files\\x"]


@needs_mono
def test_command_line_quoting_round_trips(runner: dict[str, list[str]]) -> None:
    values = dict(v.split(" ", 1) for v in runner["value"])
    for i, argument in enumerate(ARGUMENTS):
        assert argv_from_command_line(values[f"quote{i}"]) == [argument]
    assert argv_from_command_line(values["join"]) == ARGUMENTS


@needs_mono
def test_cache_expiry_fraction_matches_python(runner: dict[str, list[str]]) -> None:
    paths = {
        p.replace(" ", "_"): p
        for p in (
            "C:\\ProgramData\\Symantec\\Definitions\\VirusDefs\\20260101.001\\virscan1.dat",
            "/lab/mail01/csapi/20260101.001/zdone.dat",
            "\u00e9t\u00e9",
        )
    }
    fractions = [v.split(" ")[1:] for v in runner["value"] if v.startswith("fraction ")]
    assert len(fractions) == 3
    for key, value in fractions:
        want = int(hashlib.sha256(paths[key].encode("utf-8")).hexdigest()[:8], 16) / 2**32
        assert float(value) == pytest.approx(want, abs=1e-12)
    values = dict(v.split(" ", 1) for v in runner["value"] if not v.startswith("fraction "))
    f = int(hashlib.sha256(b"p").hexdigest()[:8], 16) / 2**32
    assert values["fresh_half"] == str(600 * (0.5 + 0.5 * f) > 299)
    assert values["fresh_full"] == "False" and values["fresh_zero"] == "False"


def windows_wire_name(name: str, limit: int) -> tuple[str, bool]:
    """What the Windows agent must send for a name Windows holds as ``name`` (UTF-16, lone surrogates possible).

    The POSIX agent's rule (``scan.wire_name``) on Windows' kind of name: what is not text is
    written as Python's backslashreplace writes it (an unpaired surrogate as ``\\ud800``, as an
    undecodable byte is ``\\xff`` on POSIX), then a name longer than ``limit`` code points is
    shortened with "..." at the end.
    """
    shown = name.encode("utf-8", "backslashreplace").decode("utf-8")
    altered = shown != name
    if len(shown) > limit:
        shown, altered = shown[: limit - 3] + "...", True
    return shown, altered


def test_the_windows_rule_is_the_posix_agents_rule() -> None:
    # for names that are text, and for POSIX's own undecodable bytes, the two agents agree
    for name, limit in (("plain.dat", 1024), ("n" * 300, 260), ("\U0001f600" * 300, 260), ("caf\u00e9", 8)):
        assert windows_wire_name(name, limit) == scan.wire_name(name, limit)
    assert scan.wire_name(os.fsdecode(b"a\xffb"))[0] == "a\\xffb"
    assert windows_wire_name("a\ud800b", 1024)[0] == "a\\ud800b"


def from_units(units: str) -> str:
    """The text of PolicyTests' hex UTF-16 code units (4 digits each); a lone surrogate stays one."""
    little_endian = "".join(units[i + 2 : i + 4] + units[i : i + 2] for i in range(0, len(units), 4))
    return bytes.fromhex(little_endian).decode("utf-16-le", "surrogatepass")


@needs_mono
def test_windows_names_are_escaped_like_the_posix_agent(runner: dict[str, list[str]]) -> None:
    cases = [v.split(" ") for v in runner["value"] if v.startswith("wire")]
    assert len(cases) >= 10
    for key, units, limit, utf8, escaped in cases:
        name = from_units(units)
        want, altered = windows_wire_name(name, int(limit))
        assert (bytes.fromhex(utf8).decode("utf-8"), escaped) == (want, str(altered)), (key, name)
    # and the cases hold what they are for: a lone surrogate, a shortened name
    assert any("d800" in units for _k, units, *_rest in cases)
    assert any(utf8.endswith("2e2e2e") for _k, _u, _l, utf8, _e in cases)


@needs_mono
def test_a_crowded_store_keeps_what_the_posix_agent_keeps(runner: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    values = dict(v.split(" ", 1) for v in runner["value"] if v.startswith("bound_"))
    names = values["bound_names"].split(",")
    monkeypatch.setattr(scan, "MAX_ENTRIES", 5)
    kept, omitted = scan._bounded([(SimpleNamespace(name=n), None) for n in names])
    assert [names[int(i)] for i in values["bound_kept"].split(",")] == [f[0].name for f in kept]
    assert [names[int(i)] for i in values["bound_omitted"].split(",")] == [f[0].name for f in omitted]
    assert len(omitted) == 3, "the case must leave folders out"
