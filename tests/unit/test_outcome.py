"""outcome.interpret: what an apply reply means, as a table (docs/changes.md, "What the reply means")."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

STORE = "/lab/h1/csapi"
SHA = "a" * 64
ARGS: dict[str, dict[str, Any]] = {
    "lock": {"stale_seconds": 900},
    "expect": {"definfo_sha256": SHA},
    "preflight": {"pointer_writable": True, "same_volume": [], "free_bytes": 0, "not_in_use": []},
    "clean": {},
    "stage": {
        "source": "/lab/h1/hawking/20261125.003",
        "name": ".smsmse-staging-20261125.003-t",
        "manifest": {"zdone.dat": {"size": 6, "sha256": SHA}},
    },
    "matches": {"name": "20261123.001", "manifest": {"zdone.dat": {"size": 6, "sha256": SHA}}},
    "rename": {"from": ".smsmse-staging-20261125.003-t", "to": "20261125.003"},
    "exchange": {"a": ".smsmse-staging-20261125.003-t", "b": "20261125.003"},
    "write_pointer": {"content_b64": "W0RlZkRhdGVzXQ==", "expect_sha256": SHA},
    "retire": {"name": "20261123.001"},
    "quarantine": {"name": "20261125.003", "dest_dir": "/lab/h1/q", "dest_name": "csapi-20261125.003"},
    "event": {"events": [], "events_file": None},
    "service": {"action": "start", "service": None, "command": ["true"], "timeout": 30},
    "unlock": {},
}


def build(spec: str) -> tuple[steps.Request, dict[str, Any]]:
    """``op/flags=result[:CODE]`` per step, space separated; flags: r required, a always, c commit, s on the staging folder."""
    steps: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    for item in spec.split():
        head, _eq, tail = item.partition("=")
        op, _slash, flags = head.partition("/")
        result, _colon, code = tail.partition(":")
        args = {**ARGS[op], "name": ARGS["stage"]["name"]} if "s" in flags else ARGS[op]
        steps.append({"op": op, "store": STORE, "required": "r" in flags, "always": "a" in flags, "commit": "c" in flags, "args": args})
        reports.append(
            {"op": op, "result": result, "code": code or None, "message": f"{op} said so" if result != "done" else "", "data": {}}
        )
    request = outcome.request(steps)
    reply = {"contract": 1, "op": "apply", "steps": reports, "warnings": []}
    return request, contract.check_reply("apply", reply)


PROMOTE = "lock/r={} expect/r={} preflight/r={} clean={} stage/r={} rename/r={} write_pointer/rc={} retire={} event={} unlock/a={}"

TABLE: list[tuple[str, str, bool, str | None]] = [
    # (what, steps, changed, error code)
    ("all done", PROMOTE.format(*["done"] * 10), True, None),
    ("locked", "lock/r=locked expect/r=skipped write_pointer/rc=skipped unlock/a=done", False, "STORE_LOCKED"),
    ("conflict", "lock/r=done expect/r=conflict write_pointer/rc=skipped unlock/a=done", False, "CHANGE_CONFLICT"),
    ("source changed", "stage/r=source_changed rename/r=skipped write_pointer/rc=skipped", False, "SOURCE_CHANGED"),
    ("refused", "preflight/r=refused:NO_SPACE write_pointer/rc=skipped", False, "PRECONDITION_FAILED"),
    ("refused in use", "preflight/r=in_use:SET_IN_USE write_pointer/rc=skipped", False, "ACTIVE_SET_IN_USE"),
    ("failed before", "stage/r=failed:ENOSPC write_pointer/rc=skipped", False, "CHANGE_FAILED"),
    ("a filter took a landed file", "stage/r=failed:READ_BACK_MISMATCH write_pointer/rc=skipped", False, "READ_BACK_MISMATCH"),
    (
        "the first required failure names the code",
        "clean=failed expect/r=conflict lock/a=locked write_pointer/rc=skipped",
        False,
        "CHANGE_CONFLICT",
    ),
    ("commit refused before changing", "write_pointer/rc=conflict event=skipped", False, "CHANGE_CONFLICT"),
    ("commit failed midway", "write_pointer/rc=failed:EIO event=skipped", True, "CHANGE_UNKNOWN"),
    ("commit timed out", "exchange/rc=failed:EBUSY retire=skipped", True, "CHANGE_UNKNOWN"),
    ("required after commit", "write_pointer/rc=done rename/r=failed:ENOENT event=skipped", True, "CHANGE_PARTIAL"),
    ("best-effort after commit", "write_pointer/rc=done retire=failed:EBUSY quarantine=in_use event=done", True, None),
    ("best-effort before commit", "clean=failed:EACCES write_pointer/rc=done", True, None),
    ("no commit step, nothing moved", "lock/r=done clean=done unlock/a=done", False, None),
    ("no commit step, a set retired", "retire/r=done quarantine/r=failed:EXDEV", True, "CHANGE_PARTIAL"),
    (
        "own staging retired by an always step",
        "stage/r=done rename/r=failed:EEXIST write_pointer/rc=skipped retire/as=done",
        False,
        "CHANGE_FAILED",
    ),
    ("always unlock failing after success", "write_pointer/rc=done unlock/ra=failed:LOCK_LOST", True, "CHANGE_PARTIAL"),
]


@pytest.mark.parametrize(("what", "spec", "changed", "code"), TABLE, ids=[row[0] for row in TABLE])
def test_interpret(what: str, spec: str, changed: bool, code: str | None) -> None:
    request, reply = build(spec)
    if "retired" in what:  # the agent says it removed something
        for step, report in zip(request["steps"], reply["steps"]):
            if step["op"] == "retire":
                report["data"] = {"removed": True}
    read = outcome.interpret(request, reply)
    assert read["changed"] is changed, read["msg"]
    assert read["failed"] is (code is not None), read["msg"]
    assert (read["error"] or {}).get("code") == code, read["msg"]
    if code:
        assert read["msg"].startswith(f"{code}: ") and " Fix: " in read["msg"]
    if not changed:
        assert "may have been made" not in read["msg"] and "was made" not in read["msg"]
    else:
        assert "Nothing was changed" not in read["msg"], "never 'nothing was changed' after a change"


def test_partial_names_what_was_done_and_what_is_left() -> None:
    request, reply = build("stage/r=done rename/r=done write_pointer/rc=done retire/r=failed:EBUSY event=skipped unlock/a=done")
    read = outcome.interpret(request, reply)
    assert read["error"]["code"] == "CHANGE_PARTIAL"
    assert "The change was made (stage .smsmse-staging-20261125.003-t, rename 20261125.003, write_pointer)" in read["msg"]
    assert "Left to do: retire 20261123.001, event." in read["msg"]


def test_best_effort_failures_are_warnings_and_agent_warnings_are_kept() -> None:
    request, reply = build("write_pointer/rc=done retire=failed:EBUSY event=done")
    reply["warnings"] = ["from the agent"]
    read = outcome.interpret(request, reply)
    assert read["warnings"][0] == "from the agent"
    assert read["warnings"][1] == f"step 1 (retire in {STORE}) ended failed: retire said so"


def test_no_reply_or_a_reply_for_other_steps_is_unknown() -> None:
    request, reply = build("lock/r=done write_pointer/rc=done")
    for read in (
        outcome.interpret(request, None, "the connection dropped"),
        outcome.interpret(request, {**reply, "steps": reply["steps"][:1]}),
    ):
        assert (read["changed"], read["failed"], read["error"]["code"]) == (True, True, "CHANGE_UNKNOWN")
    assert "the connection dropped" in outcome.interpret(request, None, "the connection dropped")["msg"]


def test_summary_keys_come_from_step_data() -> None:
    request, reply = build(
        "lock/r=done expect/r=done clean=done stage/r=done rename/r=done write_pointer/rc=done "
        "retire=done quarantine=done event=done service=done"
    )
    data = {
        "lock": {"broken": "its process 4242 is gone"},
        "expect": {"sha256": SHA},
        "clean": {"removed": [".smsmse-trash-x"], "remaining": []},
        "stage": {"bytes_copied": 17158, "files": 7},
        "write_pointer": {"sha256": "b" * 64},
        "retire": {"removed": True, "trash": None, "link": False},
        "quarantine": {"destination": "/lab/h1/q/csapi-20261125.003", "copied": False, "bytes_copied": 0},
        "event": {"written": 1},
        "service": {"exit_code": 0, "output": ""},
    }
    for report in reply["steps"]:
        report["data"] = data.get(report["op"], {})
    read = outcome.interpret(request, contract.check_reply("apply", reply))
    assert {
        k: read[k] for k in ("installed", "removed", "cleaned", "quarantined", "bytes_copied", "restarted", "lock_broken", "event_written")
    } == {
        "installed": True,
        "removed": ["20261123.001"],
        "cleaned": [".smsmse-trash-x"],
        "quarantined": ["/lab/h1/q/csapi-20261125.003"],
        "bytes_copied": 17158,
        "restarted": True,
        "lock_broken": "its process 4242 is gone",
        "event_written": True,
    }
    assert read["definfo_sha256"] == "b" * 64, "the digest read back after the write, not the one expected"
    assert "an abandoned lock was broken: its process 4242 is gone" in read["warnings"]
    assert [s["result"] for s in read["steps"]] == ["done"] * 10


def test_a_retired_link_is_not_a_removed_set() -> None:
    request, reply = build("retire=done")
    reply["steps"][0]["data"] = {"removed": True, "trash": None, "link": True}
    assert outcome.interpret(request, reply)["removed"] == []


def test_a_service_that_does_not_start_again_fails_a_change_that_was_made() -> None:
    request, reply = build(
        "lock/r=done stage/r=done rename/r=done write_pointer/rc=done event=done service/a=failed:COMMAND_FAILED unlock/a=done"
    )
    request["steps"][5]["args"] = {"action": "start", "service": "SMSMSE", "command": None, "timeout": 120}
    read = outcome.interpret(request, reply)
    assert (read["changed"], read["failed"], read["error"]["code"]) == (True, True, "SERVICE_NOT_RESTARTED")
    assert read["installed"] is True and read["restarted"] is False
    assert read["msg"].startswith("SERVICE_NOT_RESTARTED: The change was made (stage .smsmse-staging-20261125.003-t, rename 20261125.003, ")
    assert "but the service SMSMSE did not start again: step 5 (service in /lab/h1/csapi) ended failed: service said so." in read["msg"]


def test_a_restart_command_that_fails_after_a_refusal_is_named_with_the_refusal() -> None:
    request, reply = build("lock/r=done expect/r=conflict write_pointer/rc=skipped service/a=timeout unlock/a=done")
    read = outcome.interpret(request, reply)
    assert (read["changed"], read["failed"], read["error"]["code"]) == (False, True, "SERVICE_NOT_RESTARTED")
    assert "Nothing was changed: step 1 (expect in /lab/h1/csapi) ended conflict: expect said so" in read["msg"]
    assert "but the restart command (true) did not start the scanner again: step 3 (service in /lab/h1/csapi) ended timeout" in read["msg"]


def test_a_step_skipped_for_an_earlier_failure_is_not_attempted_and_names_it() -> None:
    request, reply = build("lock/r=skipped expect/r=skipped write_pointer/rc=skipped unlock/a=done")
    reply["steps"][0]["message"] = "skipped: the required step 1 (expect in /lab/h1/csapi) ended conflict: definfo.dat changed"
    read = outcome.interpret(request, reply)
    assert (read["changed"], read["failed"], read["error"]["code"]) == (False, True, "NOT_ATTEMPTED")
    assert read["msg"].startswith(
        f"NOT_ATTEMPTED: Nothing was changed: step 0 (lock in {STORE}) was not attempted, because "
        "the required step 1 (expect in /lab/h1/csapi) ended conflict: definfo.dat changed."
    )


def test_a_set_put_back_by_a_clean_that_left_trash_behind_is_a_change() -> None:
    # Windows: an antivirus filter keeps a file of a trash folder open, so clean ends failed after it renamed a set back
    request, reply = build("lock/r=done expect/r=done clean=failed:LEFTOVERS_REMAIN preflight/r=refused:NO_SPACE unlock/a=done")
    reply["steps"][2]["data"] = {"restored": ["20261125.003"], "removed": [], "remaining": [".smsmse-trash-x"]}
    read = outcome.interpret(request, reply)
    assert read["changed"] is True
    assert "Nothing was changed" not in read["msg"] and "20261125.003" in read["msg"]
    assert read["restored"] == ["20261125.003"]


def test_a_read_back_mismatch_names_the_filter_fix_not_free_space() -> None:
    """An antivirus filter that cleans or quarantines a definition file just written: the fix is an exclusion for the
    stores, not the free space or write access CHANGE_FAILED's remediation names."""
    request, reply = build("stage/r=failed:READ_BACK_MISMATCH rename/r=skipped write_pointer/rc=skipped")
    read = outcome.interpret(request, reply)
    assert read["failed"] and not read["changed"] and read["error"]["code"] == "READ_BACK_MISMATCH"
    assert "exclude the definition stores" in read["msg"].lower() and "free space" not in read["msg"], read["msg"]
