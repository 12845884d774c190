"""Never block on a special file (issue 21): a FIFO, device or socket where the POSIX agent expects a file.

Each test runs under the agent's own host-side deadline, so that a regression ends the test
with a failure instead of hanging the suite the way a plain open() of a FIFO hangs a fleet run.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, hashing, set_copy
from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import NotRegularFile, open_regular, read_regular
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .apply_host import slow_change, write_lock
from .test_agent_posix import probe_host

GUARD = 10  # seconds: far more than any of these takes, far less than forever


def guarded(work: Callable[[], Any]) -> Any:
    return defs_agent_posix.with_deadline(GUARD, work)


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def steps_run(*steps: dict[str, Any]) -> list[dict[str, Any]]:
    request = contract.check_request("apply", {"wire": contract.wire(), "cache_dir": None, "steps": list(steps)})
    reply = guarded(lambda: {"contract": 1, "op": "apply", **apply.run(request)})
    assert contract.problems("apply", "reply", reply) == []
    return list(reply["steps"])


def step(op: str, store: Path, **args: Any) -> dict[str, Any]:
    return {"op": op, "store": str(store), "required": True, "always": False, "commit": False, "args": args}


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
def test_open_regular_refuses_at_once(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "events.jsonl"
    if kind == "fifo":
        fifo(path)
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        path = Path("/dev/zero")
    for flags in (os.O_RDONLY, os.O_WRONLY | os.O_APPEND | os.O_CREAT):
        with pytest.raises(NotRegularFile, match="not a regular file: it is never opened; remove it"):
            guarded(lambda: open_regular(str(path), flags, follow=True))  # noqa: B023 - called at once
    with pytest.raises(NotRegularFile):
        guarded(lambda: read_regular(str(path), 10, follow=True))


def test_a_fifo_as_events_file_is_an_events_error_not_a_hang(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h1"))
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["h1"]
    events_file = Path(hostvars["smsmse_defs_events_file"])
    events_file.unlink()
    fifo(events_file)
    reply = guarded(lambda: probe_host(inventory, "h1"))
    assert reply["events"] == [] and reply["events_error"] is not None
    assert str(events_file) in reply["events_error"] and "a FIFO, not a regular file" in reply["events_error"]
    assert all(store["exists"] for store in reply["stores"]), "the stores are still read"


def test_a_fifo_as_events_file_fails_the_event_step_only(tmp_path: Path) -> None:
    store = tmp_path / "csapi"
    store.mkdir()
    events_file = fifo(tmp_path / "events.jsonl")
    event = step("event", store, events=[{"id": 1000, "type": "Information", "message": "m"}], events_file=str(events_file))
    (report,) = steps_run({**event, "required": False})
    assert report["result"] == "failed" and str(events_file) in report["message"] and "FIFO" in report["message"]


@pytest.mark.parametrize("name", [".smsmse-lock", ".smsmse-lock.break"])
def test_a_fifo_as_lock_or_breaker_fails_the_lock_step_at_once(tmp_path: Path, name: str) -> None:
    store = tmp_path / "csapi"
    store.mkdir()
    if name.endswith(".break"):
        write_lock(store / ".smsmse-lock", "dead")  # abandoned: breaking it goes through the breaker file
    fifo(store / name)
    started = time.monotonic()
    lock, retire = steps_run(step("lock", store, stale_seconds=900), step("retire", store, name="20261123.001"))
    assert time.monotonic() - started < GUARD
    assert lock["result"] == "failed" and "a FIFO, not a regular file" in lock["message"] and name in lock["message"]
    assert retire["result"] == "skipped"
    assert (store / name).exists(), "what is not ours is never removed"


def test_set_files_swapped_for_a_fifo_are_never_read(tmp_path: Path) -> None:
    fifo(tmp_path / "virscan1.dat")
    with pytest.raises(NotRegularFile):
        guarded(lambda: hashing.sha256_file(str(tmp_path / "virscan1.dat")))
    cache = hashing.HashCache(str(tmp_path / "cache"), str(tmp_path), use_cached=False)
    st = os.lstat(tmp_path / "virscan1.dat")
    assert guarded(lambda: cache.digest(str(tmp_path / "virscan1.dat"), st)) is None
    with pytest.raises(NotRegularFile):
        guarded(lambda: set_copy.copy_file(str(tmp_path / "virscan1.dat"), str(tmp_path / "copy.dat"), None))  # type: ignore[arg-type]
    assert not (tmp_path / "copy.dat").exists()


def test_deadline_interrupts_what_runs_past_it() -> None:
    started = time.monotonic()
    with pytest.raises(defs_agent_posix.DeadlineExceeded):
        defs_agent_posix.with_deadline(1, lambda: time.sleep(30))
    assert time.monotonic() - started < 5
    assert defs_agent_posix.with_deadline(5, lambda: 42) == 42


def test_the_agent_call_ends_failed_at_its_host_side_deadline(tmp_path: Path) -> None:
    """The module itself: a probe that would hang (a stalled read, here a sleep) ends the call failed, naming the deadline."""
    collections_root = Path(os.path.abspath(defs_agent_posix.__file__)).parents[5]  # the folder holding ansible_collections/
    args = {"ANSIBLE_MODULE_ARGS": {"op": "probe", "request": {"stores": []}, "deadline_seconds": 1}}
    code = (
        f"import sys, time; sys.path.insert(0, {str(collections_root)!r}); "
        "from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix as agent; "
        "agent.probe = lambda request: time.sleep(60); agent.main()"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(args), capture_output=True, text=True, timeout=30, check=False)
    assert time.monotonic() - started < 20
    result = json.loads(done.stdout)
    assert result["failed"] is True
    assert result["msg"] == "the agent's probe did not finish within its deadline of 1 s on the host"


def test_a_result_finished_as_the_deadline_passes_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """Low: the deadline races the end of a call. A result the work finished before the caller looks is the result
    returned, even past the deadline (here the caller looks late: its wait returns only once the work has ended)."""
    real_join = threading.Thread.join

    def late_join(self: threading.Thread, timeout: float | None = None) -> None:
        real_join(self)

    monkeypatch.setattr(threading.Thread, "join", late_join)

    def slow() -> int:
        time.sleep(1.5)
        return 42

    assert defs_agent_posix.with_deadline(1, slow) == 42

    def bad() -> int:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):  # an error the work ended with is the error raised
        defs_agent_posix.with_deadline(1, bad)


def test_the_agent_never_abandons_a_change_at_its_deadline(tmp_path: Path) -> None:
    """High: the module itself. An apply past its deadline finishes the step running (a slow restart command), skips
    the later steps naming the deadline, releases the lock and replies; it does not end failed part way."""
    collections_root = Path(os.path.abspath(defs_agent_posix.__file__)).parents[5]
    store = tmp_path / "csapi"
    store.mkdir()
    request = slow_change(store)
    args = {"ANSIBLE_MODULE_ARGS": {"op": "apply", "request": request, "deadline_seconds": 1}}
    code = (
        f"import sys; sys.path.insert(0, {str(collections_root)!r}); "
        "from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix as agent; agent.main()"
    )
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(args), capture_output=True, text=True, timeout=60, check=False)
    result = json.loads(done.stdout)
    assert not result.get("failed"), result
    assert [s["result"] for s in result["reply"]["steps"]] == ["done", "done", "skipped", "done"]
    assert "deadline of 1 s on the host" in result["reply"]["steps"][2]["message"]
    assert sorted(p.name for p in store.iterdir()) == [], "the lock was released"
