"""The Windows host's file layer under mono (tests/unit/csharp/WinLayerTests.cs).

On Windows the engine decides by HostException codes; .NET and Win32 throw IOException,
Win32Exception, UnauthorizedAccessException and their kind. Each check feeds the mapping the
exception type Windows throws, or calls a WinFiles method that is plain .NET.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from . import engine

TESTS = Path(__file__).resolve().parent / "csharp" / "WinLayerTests.cs"
CHECKS = (
    "map_file_exists",  # a lock left by a killed run: FileMode.CreateNew throws IOException 0x80070050
    "map_already_exists",
    "map_sharing_violation",
    "map_win32_access_denied",  # Native.Move: a folder with an open file inside
    "map_win32_sharing_violation",
    "map_win32_not_same_device",  # quarantine onto another volume copies
    "map_win32_unable_to_move_replacement",  # ReplaceFile after removing definfo.dat
    "map_unauthorized_access",
    "map_path_too_long",
    "map_file_not_found",
    "map_directory_not_found",
    "map_wrapped_win32",
    "map_bad_name",
    "map_host_exception_is_kept",
    "map_unknown_keeps_the_message",
    "start_task_runs_sc_by_its_full_path",  # the task that starts the scanner if a run dies ...
    "start_task_quotes_the_service_name",
    "start_task_expires_and_is_deleted",  # ... is not left to start a service an admin stopped later
    "start_task_refuses_a_name_with_a_quote",
    "create_new_on_a_left_lock_is_file_exists",
    "create_folder_existing_is_already_exists",
    "list_missing_folder_is_path_not_found",
    "delete_below_a_missing_folder_is_host_exception",
    "probe_missing_file_is_file_not_found",
    "copy_times_from_a_missing_file_is_host_exception",
    "delete_folder_not_empty_is_host_exception",
    "list_refuses_a_name_a_path_cannot_address",  # `...` would be the folder itself again: never entered
    "probe_read_only_pointer_asks_for_attributes_and_delete",  # read-only definfo.dat: replaced, not refused
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    if engine.MCS is None or engine.MONO is None:
        pytest.skip("mcs or mono is not installed (scripts/ensure_mcs.sh)")
    folder = tmp_path_factory.mktemp("winlayer")
    out = folder / "WinLayerTests.exe"
    sources = [str(p) for p in sorted(engine.UTILS.glob("*.cs")) if p.name != "SmsmseEngineCli.cs"]
    built = subprocess.run(
        [engine.MCS, *engine.BUILD, f"-out:{out}", *sources, str(TESTS)], capture_output=True, text=True, check=False, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    done = subprocess.run([engine.MONO, str(out), str(folder)], capture_output=True, text=True, check=False, timeout=300)
    found: dict[str, list[str]] = {"ok": [], "FAIL": [], "rc": [str(done.returncode)], "stderr": [done.stderr]}
    for line in done.stdout.splitlines():
        kind, _space, rest = line.partition(" ")
        found.setdefault(kind, []).append(rest)
    return found


def test_the_layer_finds_nothing_wrong(ran: dict[str, list[str]]) -> None:
    assert ran["FAIL"] == [], ran["stderr"]
    assert ran["rc"] == ["0"], ran["stderr"]


@pytest.mark.parametrize("name", CHECKS)
def test_each_check_ran(ran: dict[str, list[str]], name: str) -> None:
    assert name in ran["ok"], ran["FAIL"]
