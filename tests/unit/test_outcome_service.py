"""outcome.interpret on what the Windows review found: the service round, and steps that did nothing.

- a service the change stopped and started again is a change, even with the stores untouched;
  one it stopped and could not start again fails the task (SERVICE_NOT_RESTARTED), never plain "nothing was changed";
- after the commit, a start that failed fails the task (SERVICE_NOT_RESTARTED, saying the change was made);
- a commit step that did nothing (conflict, or failed with BAD_REQUEST) is not CHANGE_UNKNOWN.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

STORE = "C:\\Symantec\\VirusDefs"
SHA = "a" * 64
STOP = {"action": "stop", "service": "SMSMSE", "command": None, "timeout": 30}
START = {"action": "start", "service": "SMSMSE", "command": None, "timeout": 30, "only_if_stopped_here": True}
ARGS: dict[str, dict[str, Any]] = {
    "lock": {"stale_seconds": 900},
    "preflight": {"pointer_writable": False, "same_volume": [], "free_bytes": 0, "not_in_use": ["20261125.003"]},
    "exchange": {"a": ".smsmse-staging-20261125.003-t", "b": "20261125.003"},
    "write_pointer": {"content_b64": "W0RlZkRhdGVzXQ==", "expect_sha256": SHA},
    "retire": {"name": "20261123.001"},
    "unlock": {},
}


def step(
    op: str,
    result: str,
    *,
    args: dict[str, Any] | None = None,
    required: bool = True,
    always: bool = False,
    commit: bool = False,
    code: str | None = None,
    data: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    sent = {
        "op": op,
        "store": STORE,
        "required": required,
        "always": always,
        "commit": commit,
        "args": args if args is not None else ARGS[op],
    }
    report = {"op": op, "result": result, "code": code, "message": "" if result == "done" else f"{op} said so", "data": data or {}}
    return sent, report


def read(*pairs: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    request = outcome.request([p[0] for p in pairs])
    reply = contract.check_reply("apply", {"contract": 1, "op": "apply", "steps": [p[1] for p in pairs], "warnings": []})
    return outcome.interpret(request, reply)


def test_refused_after_a_stop_and_a_start_says_the_service_was_restarted() -> None:
    got = read(
        step("lock", "done"),
        step("service", "done", args=STOP, data={"stopped": True, "started": False, "dependents": []}),
        step("preflight", "in_use", code="SET_IN_USE"),
        step("exchange", "skipped", commit=True),
        step("service", "done", args=START, required=False, always=True, data={"started": True, "dependents": []}),
        step("unlock", "done", required=False, always=True),
    )
    assert got["failed"] and got["error"]["code"] == "ACTIVE_SET_IN_USE"
    assert got["changed"] is True, "the scanner was stopped and started: never 'nothing was changed'"
    assert "stopped and started again" in got["msg"] and got["restarted"] is True


def test_a_service_left_stopped_before_the_commit_fails_with_its_own_code() -> None:
    got = read(
        step("lock", "done"),
        step("service", "done", args=STOP, data={"stopped": True, "started": False, "dependents": []}),
        step("preflight", "in_use", code="SET_IN_USE"),
        step("exchange", "skipped", commit=True),
        step("service", "timeout", args=START, required=False, always=True, code="SERVICE_TIMEOUT"),
        step("unlock", "done", required=False, always=True),
    )
    assert got["failed"] and got["changed"] and got["error"]["code"] == "SERVICE_NOT_RESTARTED"
    assert "did not start again" in got["msg"] and "preflight" in got["msg"] and "the service was stopped)" in got["msg"]


def test_a_failed_start_after_the_commit_fails_the_task() -> None:
    got = read(
        step("service", "done", args=STOP, data={"stopped": True, "started": False, "dependents": []}),
        step("exchange", "done", commit=True, data={"atomic": False}),
        step("service", "failed", args=START, required=False, always=True, code="ERROR_SERVICE_DISABLED"),
        step("retire", "done", required=False, data={"removed": True}),
    )
    assert got["failed"] and got["changed"] and got["error"]["code"] == "SERVICE_NOT_RESTARTED"
    assert (
        got["msg"].startswith("SERVICE_NOT_RESTARTED: The change was made (") and "but the service SMSMSE did not start again" in got["msg"]
    )


def test_a_start_that_did_not_run_is_no_restart() -> None:
    got = read(
        step("lock", "done"),
        step("write_pointer", "done", commit=True, data={"sha256": SHA}),
        step("service", "done", args=START, required=False, always=True, data={"started": False, "dependents": []}),
    )
    assert not got["failed"] and got["restarted"] is False


def test_a_commit_step_that_did_nothing_is_not_unknown() -> None:
    conflict = read(step("exchange", "conflict", commit=True), step("retire", "skipped", required=False))
    assert (conflict["changed"], conflict["error"]["code"]) == (False, "CHANGE_CONFLICT")
    bad = read(step("write_pointer", "failed", commit=True, code="BAD_REQUEST"))
    assert (bad["changed"], bad["error"]["code"]) == (False, "CHANGE_FAILED")
    assert "Nothing was changed:" in bad["msg"]
    held = read(step("exchange", "in_use", commit=True, code="SET_IN_USE"))
    assert (held["changed"], held["error"]["code"]) == (False, "ACTIVE_SET_IN_USE")


def test_a_stop_that_failed_part_way_and_its_start_are_never_nothing_changed() -> None:
    """A stop command that fails or times out may have stopped the scanner; its start then runs. The result says the
    service may have been stopped and started again, and counts it as a change, never "Nothing was changed"."""
    for result, code in (("failed", "COMMAND_FAILED"), ("timeout", "SERVICE_TIMEOUT")):
        got = read(
            step("lock", "done"),
            step("service", result, args=STOP, code=code),
            step("exchange", "skipped", commit=True),
            step("service", "done", args=START, required=False, always=True, data={"started": True, "dependents": []}),
            step("unlock", "done", required=False, always=True),
        )
        assert got["failed"] and got["changed"] is True, got
        assert "may have stopped it" in got["msg"] and "started again" in got["msg"], got["msg"]
        assert not got["msg"].split(": ", 1)[1].startswith("Nothing was changed:"), got["msg"]
