"""Every case of tests/contract/apply_cases.yml, through both agents on real folders, and the controller's reading.

The POSIX agent runs in this process; the Windows agent's engine runs under mono through its console host
(tests/unit/engine.py) on the managed host. Both must give the table's outcome, step for step: a case where
the two agents disagree fails for the one that differs from the table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, fetch
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

from . import engine
from .apply_host import cases, host_for


@pytest.fixture(autouse=True)
def state_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both agents of a case read and write one state folder of the case's own (XDG_CACHE_HOME): a stop record
    another run left in the account's ~/.cache is never recovered by one agent and not the other."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


#: the shared table: every case runs on both agents
CASES = cases()
RESULTS = ("done", "skipped", "failed", "locked", "conflict", "refused", "source_changed", "in_use", "timeout")


def test_the_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    ops = contract.schema("apply", "request")["$defs"]["step"]["properties"]["op"]["enum"]
    for case in CASES:
        keys = {"name", "about", "needs", "setup", "steps", "expect", "after", "outcome", "read_back", "read", "deadline_seconds", "filter"}
        assert set(case) <= keys | {"pad_to", "refused"}, case["name"]
        assert set(case.get("needs", [])) <= {"chattr", "other_volume", "symlinks", "http", "fifo"}, case["name"]
        assert ("refused" in case) is ("pad_to" in case), f"{case['name']}: a refused request names why, and only one"
        assert len(case["expect"]) == (0 if "refused" in case else len(case["steps"])), f"{case['name']}: one expected result per step"
        assert all(step["op"] in ops for step in case["steps"]), case["name"]
        assert all(entry.split(":")[0] in RESULTS for entry in case["expect"]), case["name"]
        assert set(case.get("filter", {})) <= {"removes"}, case["name"]
    assert {step["op"] for case in CASES for step in case["steps"]} == set(ops), "every op has a case"


@contextmanager
def filtered_fetch(removes: str | None) -> Iterator[None]:
    """The POSIX agent on a host whose antivirus filter removes each file named ``removes`` from a fetch's staging
    folder right after the agent has written and closed it (once the flusher has closed it)."""
    if removes is None:
        yield
        return
    land = fetch._land

    def quarantined(chunks: Any, target: str, workers: Any) -> tuple[int, str]:
        landed = land(chunks, target, workers)
        if os.path.basename(target) == removes:
            workers.flushed()
            os.unlink(target)
        return landed

    fetch._land = quarantined
    try:
        yield
    finally:
        fetch._land = land


def run_posix(request: Mapping[str, Any], deadline_seconds: int | None, removes: str | None = None) -> dict[str, Any]:
    """The POSIX agent's reply, or {"failed", "msg"} when it refused the request whole (as its module fails)."""
    try:
        with filtered_fetch(removes):
            return {"contract": 1, "op": "apply", **apply.run(request, deadline_seconds=deadline_seconds)}
    except apply.TooManySteps as exc:
        return {"failed": True, "msg": str(exc)}


def run_engine(request: Mapping[str, Any], deadline_seconds: int | None, removes: str | None = None) -> dict[str, Any]:
    """The engine's reply, or the console host's {"failed", "msg"} when it refused the request whole."""
    out = engine.call("apply", request, deadline_seconds=deadline_seconds, filter_removes=removes)
    if out.get("failed"):
        return out
    assert "reply" in out, out
    found: dict[str, Any] = out["reply"]
    return found


#: cases of the shared table the Windows agent's engine cannot pass yet -> the behaviour it lacks (a counted skip)
PENDING_ON_ENGINE: dict[str, str] = {}


def engine_marks(case: dict[str, Any]) -> list[Any]:
    pending = PENDING_ON_ENGINE.get(case["name"])
    return [engine.needs_mono] + ([pytest.mark.skip(reason=f"pending on the engine: {pending}")] if pending else [])


CASES_BY_AGENT = [pytest.param(case, run_posix, id=f"{case['name']}-posix") for case in CASES] + [
    pytest.param(case, run_engine, id=f"{case['name']}-win_engine", marks=engine_marks(case)) for case in CASES
]


def test_every_pending_case_exists() -> None:
    assert sorted(set(PENDING_ON_ENGINE) - {case["name"] for case in CASES}) == []


@pytest.mark.parametrize(("case", "agent"), CASES_BY_AGENT)
def test_case(case: dict[str, Any], agent: Any, tmp_path: Path) -> None:
    with host_for(case, tmp_path) as host:
        request = host.request(case["steps"], case.get("read_back"), pad_to=case.get("pad_to"))
        reply = agent(request, case.get("deadline_seconds"), case.get("filter", {}).get("removes"))
        host.release()
        if "refused" in case:  # refused whole, before any step ran: the store as it was
            assert reply.get("failed") is True and case["refused"] in reply["msg"], reply
            host.check_after(case.get("after", {}))
            return
        assert contract.problems("apply", "reply", reply) == []
        got = [r["result"] + (f":{r['code']}" if ":" in want else "") for r, want in zip(reply["steps"], case["expect"])]
        assert got == case["expect"], [(r["op"], r["result"], r["code"], r["message"]) for r in reply["steps"]]
        host.check_after(case.get("after", {}))
        host.check_read(request, reply, case.get("read", {}))
        read = outcome.interpret(request, reply)
        want = case["outcome"]
        assert read["changed"] is want["changed"], read["msg"]
        assert read["failed"] is ("code" in want), read["msg"]
        assert (read["error"] or {}).get("code") == want.get("code"), read["msg"]


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("rename", {"from": ".smsmse-staging-x", "to": "20261125.003\n"}),
        ("retire", {"name": "20261125.003\n"}),
        ("quarantine", {"name": "20261125.003", "dest_dir": "/q", "dest_name": "csapi\n"}),
        ("preflight", {"pointer_writable": True, "same_volume": [], "free_bytes": 0, "not_in_use": ["20261125.003\n"]}),
        ("matches", {"name": "20261125.003", "manifest": {"zdone.dat\n": {"size": 6, "sha256": "a" * 64}}}),
        ("retire", {"name": "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in "20261125.003")}),  # full-width digits
    ],
)
def test_the_request_schema_takes_names_whole(op: str, args: dict[str, Any]) -> None:
    """Python's jsonschema lets $ match before a final newline; the patterns must not."""
    step = {"op": op, "store": "/s", "required": True, "always": False, "commit": False, "args": args}
    assert contract.problems("apply", "request", {"wire": contract.wire(), "cache_dir": None, "steps": [step]}) != []


def test_the_schemas_bounds_are_the_wire_limits() -> None:
    limits = contract.wire()["limits"]
    request, reply = contract.schema("apply", "request"), contract.schema("apply", "reply")
    assert request["properties"]["steps"]["maxItems"] == reply["properties"]["steps"]["maxItems"] == limits["max_steps"]
    assert request["$defs"]["manifest"]["maxProperties"] == limits["max_manifest_files"]
    assert request["$defs"]["path"]["maxLength"] == limits["max_path"]
    assert reply["properties"]["warnings"]["items"]["maxLength"] == limits["max_message"]
    assert reply["$defs"]["step"]["properties"]["message"]["maxLength"] == limits["max_message"]
    assert reply["$defs"]["data_clean"]["properties"]["removed"]["maxItems"] == limits["max_list"]
    assert request["$defs"]["args_event"]["properties"]["events"]["maxItems"] == limits["max_events"]
    b64 = request["$defs"]["args_write_pointer"]["properties"]["content_b64"]["maxLength"]
    assert b64 == 4 * ((limits["max_definfo_bytes"] + 2) // 3)
