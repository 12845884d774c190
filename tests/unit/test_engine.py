"""The Windows agent's engine on its own: a fault-injecting NTFS double (tests/unit/csharp/EngineTests.cs) and the console host.

The double is the managed host over real folders with what only Windows does injected where a step
meets it: sharing violations, access denied, read-only files, an antivirus filter cleaning a file
just written, a scanner holding a set open. Each check names the review finding it shows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from ansible.utils.display import Display

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, contract, facts

from . import engine

DOUBLE = Path(__file__).resolve().parent / "csharp" / "EngineTests.cs"
CHECKS = (
    "fetch_marker_comes_last",  # fetch on the Windows agent: the marker last ...
    "fetch_over_a_broken_connection_keeps_nothing",  # ... a connection reset mid-file refuses the set, nothing kept
    "fetch_of_a_short_body_is_truncated",  # a body shorter than the catalog's size
    "fetch_of_a_body_closed_mid_file_is_truncated",  # review of 23: .NET's IOException there is SOURCE_MISMATCH, as POSIX's
    "fetch_from_a_stalled_server_meets_the_deadline",  # a server that sends a byte now and then: deadline_seconds
    "fetch_from_a_denied_share_names_the_second_hop",  # access denied on a share: the fix (become, delegation)
    "fetch_from_a_share_that_hangs_at_stat_meets_the_deadline",  # review of 23: a share that stops answering ...
    "fetch_from_a_share_that_hangs_at_read_meets_the_deadline",  # ... ends the step at deadline_seconds, as on POSIX
    "fetch_keeps_a_connection_read_to_the_end",  # review of 23: a body read whole keeps its connection ...
    "fetch_aborts_a_body_it_leaves_unread",  # ... one left unread is aborted, never drained past the deadline
    "fetch_407_names_the_fix_for_the_system_proxy",  # review of 23: a 407 names the fix that fits the proxy used
    "fetch_407_names_the_fix_for_a_named_proxy",
    "fetch_reads_back_what_landed",  # an antivirus filter cleaning a fetched file
    "fetch_offers_tls_1_2_or_later_only",  # Windows PowerShell 5.1 must be told to offer TLS 1.2
    "stage_reads_back_what_landed",  # critical: a staged set goes live only as read back from the store
    "stage_leaves_no_half_set",
    "stage_sets_times_after_the_writer_closes",  # high: a file's time is set once the writer is closed
    "abandoned_probe_stops_and_writes_no_cache",  # medium: a probe given up at its deadline (PSRP keeps the process)
    "timed_out_stop_is_started_again",  # high: a stop that failed or timed out keeps its record ...
    "timed_out_stop_is_started_at_the_end",  # ... and the scanner is started again
    "dependents_are_started_again",  # medium: services stopped with the scanner are started with it
    "dependents_are_started_at_the_end",
    "quarantine_to_another_volume_copies",  # medium: the NotSameDevice fallback is reached
    "started_with_a_record_left_is_done",  # low: the start worked; a stop record that cannot be removed warns
    "sharing_violation_is_retried",  # medium: retried within the budget
    "access_denied_is_failed_not_in_use",  # medium: error 5 is not "in use", and not retried
    "held_set_is_in_use",
    "deadline_ignores_the_wall_clock",
    "write_pointer_says_in_use",  # medium: write_pointer can say in_use
    "write_pointer_leaves_the_old_pointer",
    "read_only_top_is_removed",  # medium: a read-only file at the top of a removal
    "restart_manager_is_asked_again",  # high: the Restart Manager check is retried within the budget
    "held_set_refuses_preflight",
    "budget_scales_with_size",  # medium: the budget scales with the set's size
    "folder_rename_waits_for_an_open_file",  # a folder rename refused while a file inside is open ...
    "folder_held_open_is_set_in_use",  # ... is in use (Restart Manager's holders), not access denied
    "folder_access_denied_with_no_holder_is_failed",
    "clean_waits_for_a_delete_pending_file",  # FILE_SHARE_DELETE: deleted, but there until its handle closes
    "file_open_without_share_delete_remains",
    "quarantine_onto_a_name_differing_in_case_is_a_conflict",  # names that collide without case
    "pointer_named_in_another_case_is_seen",
    "lock_from_before_the_boot_is_broken",  # Windows has no boot ID: the boot time decides
    "lock_since_the_boot_of_a_live_process_is_kept",
    "lock_whose_pid_was_reused_is_broken",  # review 9: a live PID that is another start than the lock names
    "stop_record_whose_pid_was_reused_is_recovered",  # ... or than the stop record names
    "store_given_in_8_3_form_is_reported_long",  # 8.3 short names: one folder is one store
    "cache_keeps_no_digest_read_while_a_writer_held_the_file",  # review 14: the USN is journalled at a handle's first write
    "cache_hit_opens_no_file_for_a_writer_check",  # issue 23: the check's open has antivirus filters scan the file
    "cache_is_not_trusted_once_a_writer_wrote",
    "store_path_case_is_ignored_on_windows",
    "replace_failed_after_removal_keeps_the_new_pointer",  # ReplaceFile errors 1175/1176/1177
    "clean_keeps_the_pointer_temp_while_definfo_is_missing",
    "privacy_old_rule_refused_an_ordinary_server",  # high: the rule that refused ordinary servers ...
    "privacy_default_accepts_an_installer_secured_store",  # ... and the default policy, as the installer secures its folders
    "privacy_default_refuses_create_rights_in_the_store",  # review 12: Users may not add a set to a store
    "privacy_default_refuses_users_modify",
    "privacy_owner_not_an_admin_is_refused",
    "privacy_policy_from_the_request_is_applied",
    "privacy_policy_names_a_bad_sid",
    "privacy_junction_above_is_refused",
    "retire_puts_back_a_set_the_pointer_names_meanwhile",  # issue 21: the product points at a set as it leaves its name
    "quarantine_puts_back_a_set_the_pointer_names_meanwhile",
    "fifo_read_is_refused_at_once",  # issue 21: a file opened without blocking, checked on the descriptor
    "fifo_write_is_refused_at_once",
)


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    if engine.MCS is None or engine.MONO is None:
        pytest.skip("mcs or mono is not installed (scripts/ensure_mcs.sh)")
    folder = tmp_path_factory.mktemp("double")
    out = folder / "EngineTests.exe"
    sources = [str(p) for p in sorted(engine.UTILS.glob("*.cs")) if p.name != "SmsmseEngineCli.cs"]
    built = subprocess.run(
        [engine.MCS, *engine.BUILD, f"-out:{out}", *sources, str(DOUBLE)], capture_output=True, text=True, check=False, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    ran = subprocess.run(
        [engine.MONO, str(out), str(folder / "hosts")],
        input=json.dumps({"wire": contract.wire()}),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(folder / "cache")},  # its own state folder: no record another run left
    )
    found: dict[str, list[str]] = {"ok": [], "FAIL": [], "rc": [str(ran.returncode)], "stderr": [ran.stderr]}
    for line in ran.stdout.splitlines():
        kind, _space, rest = line.partition(" ")
        found.setdefault(kind, []).append(rest)
    return found


def test_the_double_finds_nothing_wrong(double: dict[str, list[str]]) -> None:
    assert double["FAIL"] == [], double["stderr"]
    assert double["rc"] == ["0"], double["stderr"]


@pytest.mark.parametrize("name", CHECKS)
def test_each_fault_is_exercised(double: dict[str, list[str]], name: str) -> None:
    assert name in double["ok"], double["FAIL"]


@engine.needs_mono
def test_a_check_mode_probe_writes_no_cache(tmp_path: Path) -> None:
    """Medium: a probe in check mode reads the hash cache but neither creates nor rewrites it."""
    store = tmp_path / "csapi" / "20261125.003"
    store.mkdir(parents=True)
    (store / "zdone.dat").write_bytes(b"done\r\n")
    stores = {"csapi": str(tmp_path / "csapi")}
    request = facts.probe_request(is_windows=False, stores=stores, product_option=None, events_file=None, event_hours=1)
    request["hashing"] = {"deep": False, "cache_dir": str(tmp_path / "cache")}
    reply = engine.reply("probe", request, check_mode=True)
    assert contract.problems("probe", "reply", reply) == []
    assert reply["stores"][0]["hash_stats"]["files_hashed"] == 1
    assert not (tmp_path / "cache").exists()
    engine.reply("probe", request)
    saved = {p: p.read_bytes() for p in (tmp_path / "cache").iterdir()}
    (store / "virscan1.dat").write_bytes(b"new")
    engine.reply("probe", request, check_mode=True)
    assert {p: p.read_bytes() for p in (tmp_path / "cache").iterdir()} == saved


@engine.needs_mono
def test_an_oversized_hash_cache_is_not_read_and_is_rebuilt(tmp_path: Path) -> None:
    """Review 16: the hash cache file is read up to a bound; a larger one is taken as absent, said, and rewritten."""
    store = tmp_path / "csapi" / "20261125.003"
    store.mkdir(parents=True)
    (store / "zdone.dat").write_bytes(b"done\r\n")
    request = facts.probe_request(
        is_windows=False, stores={"csapi": str(tmp_path / "csapi")}, product_option=None, events_file=None, event_hours=1
    )
    request["hashing"] = {"deep": False, "cache_dir": str(tmp_path / "cache")}
    engine.reply("probe", request)
    [cache] = (tmp_path / "cache").glob("*.json")
    with cache.open("r+b") as handle:  # sparse: a cache file one byte over the bound
        handle.truncate(64 * 1024 * 1024 + 1)
    reply = engine.reply("probe", request)
    stats = reply["stores"][0]["hash_stats"]
    assert stats["files_hashed"] == 1 and stats["files_cached"] == 0
    assert "larger than 67108864 bytes" in stats["cache_error"]
    assert cache.stat().st_size < 4096  # rewritten from this probe's entries
    assert engine.reply("probe", request)["stores"][0]["hash_stats"]["files_cached"] == 1


@engine.needs_mono
def test_the_console_host_reports_a_failure_as_json() -> None:
    out = engine.call("apply", {"wire": contract.wire(), "cache_dir": None, "steps": []}, check_mode=True)
    assert out["failed"] is True and "does not run in check mode" in out["msg"]
    assert engine.call("nonsense", {})["failed"] is True


@engine.needs_mono
@pytest.mark.parametrize("redirect", ["1</dev/null", "1<."])
def test_a_console_host_that_cannot_write_its_reply_says_so_and_fails(redirect: str) -> None:
    """A reply that cannot be written (standard output read-only, or a folder Mono would answer with Stream.Null)
    ends with exit code 74 and a line on stderr saying so, never exit 0 having written nothing (seen under load)."""
    assert engine.MONO is not None
    payload = json.dumps({"op": "nonsense", "check_mode": False, "request": {}})
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" "$1" {redirect}', engine.MONO, str(engine.executable())],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=engine.isolated(),
    )
    assert done.returncode == 74, (done.returncode, done.stderr)
    assert "the reply was not written: writing standard output failed (errno 9); the operation ran and failed" in done.stderr


def test_every_code_the_engine_reports_is_in_the_contract_table() -> None:
    """A refusal code the engine writes is one docs/changes.md explains (the controller maps them)."""
    table = set(re.findall(r"(?m)^\| `([A-Z_]+)` +\|", (engine.ROOT / "docs" / "changes.md").read_text(encoding="utf-8")))
    source = "".join(p.read_text(encoding="utf-8") for p in engine.UTILS.glob("SmsmseEngine*.cs"))
    used = set(re.findall(r'new Refusal\("\w+", [^;]*?"([A-Z][A-Z_]+)", ', source))
    assert used, "the pattern no longer finds the engine's codes"
    assert used - {"BAD_REQUEST"} <= table, used - table


def test_the_code_check_sees_a_code_missing_from_the_table() -> None:
    snippet = 'throw new Refusal("failed", "x", "NOT_IN_THE_TABLE", null);'
    assert re.findall(r'new Refusal\("\w+", [^;]*?"([A-Z][A-Z_]+)", ', snippet) == ["NOT_IN_THE_TABLE"]


@engine.needs_mono
def test_a_run_killed_while_the_scanner_is_stopped_is_put_right_by_the_next_call(tmp_path: Path) -> None:
    """Critical: a stop is recorded before it happens; the next call (a probe) finds the record and starts the scanner."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    started = tmp_path / "started"
    store = tmp_path / "csapi"
    store.mkdir()
    steps = [
        {"op": "service", "args": {"action": "stop", "service": "SMSMSE", "command": ["true"], "timeout": 30}},
        {"op": "event", "args": {"events": [], "events_file": None}},
        {"op": "service", "args": {"action": "start", "service": "SMSMSE", "command": ["touch", str(started)], "timeout": 30}},
    ]
    request = {
        "wire": contract.wire(),
        "cache_dir": None,
        "steps": [{"store": str(store), "required": False, "always": i == 2, "commit": False, **step} for i, step in enumerate(steps)],
    }
    assert contract.problems("apply", "request", request) == []
    killed = engine.call("apply", request, env=env, kill_before=1)
    assert "crashed" in killed, killed
    assert not started.exists()
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(store)}, product_option=None, events_file=None, event_hours=1)
    reply = engine.reply("probe", probe, env=env)
    assert contract.problems("probe", "reply", reply) == []
    assert started.exists(), "the next call did not start the scanner"
    assert any("SMSMSE" in w and "started" in w for w in reply.get("warnings", [])), reply.get("warnings")
    again = engine.reply("probe", probe, env=env)
    assert "warnings" not in again


@engine.needs_mono
def test_a_finished_run_leaves_no_record(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    started = tmp_path / "started"
    store = tmp_path / "csapi"
    store.mkdir()
    steps = [
        {"op": "service", "args": {"action": "stop", "service": "SMSMSE", "command": ["true"], "timeout": 30}},
        {"op": "service", "args": {"action": "start", "service": "SMSMSE", "command": ["touch", str(started)], "timeout": 30}},
    ]
    request = {
        "wire": contract.wire(),
        "cache_dir": None,
        "steps": [{"store": str(store), "required": False, "always": False, "commit": False, **step} for step in steps],
    }
    reply = engine.reply("apply", request, env=env)
    assert [s["result"] for s in reply["steps"]] == ["done", "done"]
    started.unlink()
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(store)}, product_option=None, events_file=None, event_hours=1)
    assert "warnings" not in engine.reply("probe", probe, env=env)
    assert not started.exists()


def test_the_controller_shows_what_the_agent_put_right(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(Display, "warning", lambda self, msg, *a, **k: shown.append(msg))
    request = facts.probe_request(is_windows=False, stores={"csapi": "/s"}, product_option=None, events_file=None, event_hours=1)
    warning = "SMSMSE was stopped by a run that ended before it started it again; it was started again now"
    reply: dict[str, Any] = {
        "contract": 1,
        "op": "probe",
        "agent": {"name": "defs_agent_win", "runtime": "Mono"},
        "host": {"os": "linux", "os_version": "6", "arch": "x86_64", "hostname": "h", "env": {}},
        "product": None,
        "stores": [],
        "events": [],
        "events_error": None,
        "warnings": [warning],
    }

    def run(**_kwargs: Any) -> dict[str, Any]:
        return {"reply": reply}

    # a lab host served by the Windows agent's engine under Mono, as the reply says
    task_vars: dict[str, object] = {"inventory_hostname": "mail01", "smsmse_defs_lab_agent": "windows"}
    agent.call(run, is_windows=False, op="probe", request=request, task_vars=task_vars)
    assert shown == ["mail01: " + warning]


def _case_collisions(value: Any, where: str = "$") -> list[str]:
    """Objects holding keys that differ only in case: Windows PowerShell 5.1's ConvertFrom-Json refuses them."""
    found = []
    if isinstance(value, dict):
        folded: dict[str, str] = {}
        for key in value:
            if key.casefold() in folded:
                found.append(f"{where}: {folded[key.casefold()]!r} and {key!r}")
            folded[key.casefold()] = key
        for key, item in value.items():
            found += _case_collisions(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _case_collisions(item, f"{where}[{index}]")
    return found


def test_keys_differing_only_in_case_reach_the_windows_agent(tmp_path: Path) -> None:
    """Medium: the exec wrapper parses module arguments with ConvertFrom-Json, which dies on keys that differ
    only in case (a manifest naming VIRSCAN1.DAT and virscan1.dat) before any step runs. The controller sends
    the Windows agent its request as one JSON string, which the engine parses itself."""
    manifest = {name: {"size": 1, "sha256": "a" * 64} for name in ("VIRSCAN1.DAT", "virscan1.dat", "zdone.dat")}
    step = {"op": "matches", "store": "C:\\\\defs", "required": True, "always": False, "commit": False}
    request = {"wire": contract.wire(), "cache_dir": None, "steps": [{**step, "args": {"name": "20261125.003", "manifest": manifest}}]}
    sent: list[dict[str, Any]] = []

    def run(*, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        sent.append(module_args)
        return {"reply": {"contract": 1, "op": "apply", "steps": [], "warnings": []}}

    agent.call(run, is_windows=True, op="apply", request=request, task_vars={})
    assert _case_collisions(sent[0]) == []
    assert json.loads(sent[0]["request_json"]) == request
    assert _case_collisions({"request": request}) != [], "the check finds the collision in a request sent as a mapping"
    agent.call(run, is_windows=False, op="apply", request=request, task_vars={})
    assert sent[1]["request"] == request, "the POSIX agent still gets a mapping"


def _posix_liveupdate(request: dict[str, Any]) -> dict[str, Any]:
    def run(argv: list[str]) -> tuple[int, str, str]:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    return {"contract": 1, "op": "run_liveupdate", **defs_agent_posix.run_liveupdate(request, run)}


@engine.needs_mono
@pytest.mark.parametrize(
    ("command", "timeout", "result", "exit_code"),
    [
        (["sh", "-c", "echo updating; exit 3"], 30, "exited", 3),
        (["sh", "-c", "echo updated"], 30, "exited", 0),
        (None, 30, "not_found", None),
        (["/nonexistent/luall"], 30, None, None),
        (["sleep", "20"], 1, "timeout", None),
    ],
)
def test_run_liveupdate_on_both_agents(command: list[str] | None, timeout: int, result: str | None, exit_code: int | None) -> None:
    request = {"luall_candidates": [], "arguments": [], "command": command, "timeout": timeout}
    assert contract.problems("run_liveupdate", "request", request) == []
    replies = {"posix": _posix_liveupdate(request), "win_engine": engine.reply("run_liveupdate", request)}
    for name, reply in replies.items():
        assert contract.problems("run_liveupdate", "reply", reply) == [], name
    if result is None:  # a program that cannot start: the engine says failed; coreutils' timeout, which the
        # POSIX agent runs it through, exits 127 (both a failed LiveUpdate to the controller)
        assert replies["win_engine"]["result"] == "failed" and "/nonexistent/luall" in replies["win_engine"]["output"]
        assert (replies["posix"]["result"], replies["posix"]["exit_code"]) in (("failed", None), ("exited", 127))
        return
    assert {name: reply["result"] for name, reply in replies.items()} == {"posix": result, "win_engine": result}
    if result == "exited":
        assert replies["win_engine"]["exit_code"] == replies["posix"]["exit_code"] == exit_code
        assert replies["win_engine"]["output"] == replies["posix"]["output"]


@engine.needs_mono
def test_a_check_mode_probe_reports_a_stopped_scanner_without_starting_it(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    started = tmp_path / "started"
    store = tmp_path / "csapi"
    store.mkdir()
    stop = {"op": "service", "args": {"action": "stop", "service": "SMSMSE", "command": ["true"], "timeout": 30}}
    start = {"op": "service", "args": {"action": "start", "service": "SMSMSE", "command": ["touch", str(started)], "timeout": 30}}
    request = {
        "wire": contract.wire(),
        "cache_dir": None,
        "steps": [{"store": str(store), "required": False, "always": False, "commit": False, **step} for step in (stop, start)],
    }
    assert "crashed" in engine.call("apply", request, env=env, kill_before=1)
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(store)}, product_option=None, events_file=None, event_hours=1)
    checked = engine.reply("probe", probe, check_mode=True, env=env)
    assert not started.exists(), "check mode changed the host"
    assert any("next call that is not in check mode" in w for w in checked["warnings"]), checked.get("warnings")
    engine.reply("probe", probe, env=env)
    assert started.exists()


@engine.needs_mono
def test_a_lab_probe_puts_right_only_its_own_stores(tmp_path: Path) -> None:
    """In the lab one machine serves many hosts from one state folder: a probe starts only what its own stores' runs left stopped."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    started = tmp_path / "started"
    mine, other = tmp_path / "mail01" / "csapi", tmp_path / "mail02" / "csapi"
    mine.mkdir(parents=True)
    other.mkdir(parents=True)
    stop = {"op": "service", "args": {"action": "stop", "service": "SMSMSE", "command": ["true"], "timeout": 30}}
    start = {"op": "service", "args": {"action": "start", "service": "SMSMSE", "command": ["touch", str(started)], "timeout": 30}}
    request = {
        "wire": contract.wire(),
        "cache_dir": None,
        "steps": [{"store": str(other), "required": False, "always": False, "commit": False, **step} for step in (stop, start)],
    }
    assert "crashed" in engine.call("apply", request, env=env, kill_before=1)
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(mine)}, product_option=None, events_file=None, event_hours=1)
    assert "warnings" not in engine.reply("probe", probe, env=env)
    assert not started.exists()
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(other)}, product_option=None, events_file=None, event_hours=1)
    assert engine.reply("probe", probe, env=env)["warnings"]
    assert started.exists()


@engine.needs_mono
def test_a_change_past_its_deadline_is_never_abandoned() -> None:
    """High: the deadline never abandons a change. run_liveupdate is one step, bounded by its own timeout: a run that
    outlasts the call's deadline ends with its real result, never a deadline error while it still runs."""
    request = {"luall_candidates": [], "arguments": [], "command": ["sh", "-c", "sleep 2; echo updated"], "timeout": 60}
    started = time.monotonic()
    out = engine.call("run_liveupdate", request, deadline_seconds=1)
    assert time.monotonic() - started >= 2
    assert "reply" in out, out
    assert (out["reply"]["result"], out["reply"]["exit_code"], out["reply"]["output"]) == ("exited", 0, "updated\n")


@engine.needs_mono
def test_a_probe_past_its_deadline_ends_failed(tmp_path: Path) -> None:
    """A probe only reads: one still running at the deadline ends failed at once, naming it (here a hashing probe of a
    large sparse file, which takes far longer than a second to read)."""
    store = tmp_path / "csapi"
    (store / "20261125.003").mkdir(parents=True)
    with open(store / "20261125.003" / "virscan1.dat", "wb") as handle:
        handle.truncate(64 << 30)
    probe = facts.probe_request(is_windows=False, stores={"csapi": str(store)}, product_option=None, events_file=None, event_hours=1)
    probe["hashing"] = {"deep": True, "cache_dir": str(tmp_path / "cache")}
    started = time.monotonic()
    out = engine.call("probe", probe, deadline_seconds=1)
    assert time.monotonic() - started < 20
    assert out.get("failed") is True, out
    assert out["msg"] == "TimeoutException: the agent's probe did not finish within its deadline of 1 s on the host"
