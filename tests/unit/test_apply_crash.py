"""apply killed with SIGKILL: at random moments, and at the one moment the test hook names.

After every kill the store's definfo.dat names a complete set with the right
bytes, and a re-run (read the store again, clean, the same steps with a fresh
expect) converges on the new set with no leftovers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, primitives
from ansible_collections.mailsec.smsmse.plugins.module_utils.store_lock import boot_id
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from . import store_worker
from .apply_host import current, definfo_bytes, tree
from .store_worker import KILL_AFTER_ASIDE, NO_RENAMEAT2

WORKER = Path(__file__).with_name("store_worker.py")
OLD, NEW = "20261123.001", "20261125.003"
FILES = (*((f"virscan{i}.dat", 24 * 1024) for i in range(1, 13)), ("naveng32.dll", 4096), ("navex32a.dll", 4096))


def true_bytes(version: str) -> dict[str, bytes]:
    found = {name: lab.file_bytes(version, name, size) for name, size in FILES}
    found[lab.MARKER] = b"done\r\n"
    return found


@pytest.fixture
def host(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    lab.write_set(root / "hawking", NEW, FILES)
    lab.write_set(root / "csapi", OLD, FILES)
    (root / "csapi" / "definfo.dat").write_bytes(definfo_bytes(OLD))
    return root


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def step(
    op: str, store: Path, args: dict[str, Any], *, required: bool = True, always: bool = False, commit: bool = False
) -> dict[str, Any]:
    return {"op": op, "store": str(store), "required": required, "always": always, "commit": commit, "args": args}


def promote_steps(host: Path) -> list[dict[str, Any]]:
    """What the controller would send after reading the host: copy NEW unless a complete copy is there, swap, retire OLD."""
    store = host / "csapi"
    manifest = {n: {"size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in true_bytes(NEW).items()}
    sha = digest(store / "definfo.dat")
    staging = f".smsmse-staging-{NEW}-{uuid.uuid4().hex[:8]}"
    steps = [
        step("lock", store, {"stale_seconds": 900}),
        step("expect", store, {"definfo_sha256": sha}),
        step("preflight", store, {"pointer_writable": True, "same_volume": [], "free_bytes": 0, "not_in_use": []}),
        step("clean", store, {}, required=False),
    ]
    if (store / NEW).is_dir():
        steps.append(step("matches", store, {"name": NEW, "manifest": manifest}))
    else:
        steps += [
            step("stage", store, {"source": str(host / "hawking" / NEW), "name": staging, "manifest": manifest}),
            step("rename", store, {"from": staging, "to": NEW}),
        ]
    content = base64.b64encode(definfo_bytes(NEW)).decode()
    steps += [
        step("write_pointer", store, {"content_b64": content, "expect_sha256": sha}, commit=True),
        step("retire", store, {"name": OLD}, required=False),
        step("unlock", store, {}, required=False, always=True),
    ]
    return steps


def assert_points_at_a_complete_set(store: Path) -> str:
    version = current(store)
    assert version is not None
    assert tree(store / version) == true_bytes(version), f"{version} is not complete"
    return version


def converge(host: Path) -> None:
    request = outcome.request(promote_steps(host))
    read = outcome.interpret(request, {"contract": 1, "op": "apply", **apply.run(request)})
    assert not read["failed"], read["msg"]
    store = host / "csapi"
    assert assert_points_at_a_complete_set(store) == NEW
    assert sorted(p.name for p in store.iterdir()) == [NEW, "definfo.dat"]


def start_worker(request: Mapping[str, Any], tmp: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    request_file = tmp / f"request-{uuid.uuid4().hex}.json"
    request_file.write_text(json.dumps(request))
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), "apply", str(request_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    return worker


def test_kill_between_the_staging_rename_and_the_pointer_swap(host: Path, tmp_path: Path) -> None:
    request = outcome.request(promote_steps(host))
    worker = start_worker(request, tmp_path, {store_worker.KILL_BEFORE: "write_pointer"})
    out, _err = worker.communicate("go\n", timeout=60)
    assert worker.returncode == -signal.SIGKILL, out
    store = host / "csapi"
    assert (store / NEW).is_dir() and tree(store / NEW) == true_bytes(NEW), "the staging rename happened"
    assert assert_points_at_a_complete_set(store) == OLD, "the pointer still names the old, complete set"
    assert (store / ".smsmse-lock").exists(), "the killed run's lock is left behind"
    assert outcome.interpret(request, None, "the agent was killed")["error"]["code"] == "CHANGE_UNKNOWN"
    converge(host)


def test_the_agent_has_no_kill_hook_and_the_worker_kills_only_when_asked(host: Path, tmp_path: Path) -> None:
    assert not hasattr(apply, "KILL_BEFORE") and "KILL_BEFORE" not in Path(apply.__file__).read_text()
    worker = start_worker(outcome.request(promote_steps(host)), tmp_path)
    out, _err = worker.communicate("go\n", timeout=60)
    assert worker.returncode == 0
    assert [s["result"] for s in json.loads(out.splitlines()[-1])["steps"]] == ["done"] * 9


def crash_rounds(host: Path, tmp_path: Path, rounds: int) -> dict[str, int]:
    pristine = tmp_path / "pristine"
    shutil.copytree(host, pristine, symlinks=True)
    started = time.perf_counter()
    apply.run(outcome.request(promote_steps(host)))
    duration = time.perf_counter() - started
    rng = random.Random(20261127)
    seen = {"old": 0, "new": 0}
    for _round in range(rounds):
        shutil.rmtree(host)
        shutil.copytree(pristine, host, symlinks=True)
        worker = start_worker(outcome.request(promote_steps(host)), tmp_path)
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0, duration * 1.3))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
        worker.stdin.close()
        seen["new" if assert_points_at_a_complete_set(host / "csapi") == NEW else "old"] += 1
        converge(host)
    return seen


def test_killed_at_random_moments_the_store_stays_sound(host: Path, tmp_path: Path) -> None:
    seen = crash_rounds(host, tmp_path, 200)
    assert seen["old"] > 0 and seen["new"] > 0, f"the kills never landed on both sides of the swap: {seen}"


@pytest.mark.slow
def test_killed_at_random_moments_many_more_times(host: Path, tmp_path: Path) -> None:
    seen = crash_rounds(host, tmp_path, 2000)
    assert seen["old"] > 0 and seen["new"] > 0


def test_promotes_over_an_abandoned_lock_one_wins(host: Path, tmp_path: Path) -> None:
    """Four runs find the same dead owner's lock; exactly one changes the store, the others change nothing."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    record = {"pid": int(dead.stdout), "host": socket.gethostname(), "boot_id": boot_id(), "created": time.time(), "token": "dead"}
    (host / "csapi" / ".smsmse-lock").write_text(json.dumps(record))
    requests = [outcome.request(promote_steps(host)) for _worker in range(4)]
    workers = [start_worker(request, tmp_path) for request in requests]
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    replies = [json.loads(w.communicate(timeout=60)[0].splitlines()[-1]) for w in workers]
    reads = [outcome.interpret(request, {"contract": 1, "op": "apply", **reply}) for request, reply in zip(requests, replies)]
    assert sorted(r["changed"] for r in reads) == [False, False, False, True], [r["msg"] for r in reads]
    for loser in (r for r in reads if not r["changed"]):
        assert loser["error"]["code"] in ("STORE_LOCKED", "CHANGE_CONFLICT"), loser["msg"]
    assert assert_points_at_a_complete_set(host / "csapi") == NEW
    assert sorted(p.name for p in (host / "csapi").iterdir()) == [NEW, "definfo.dat"]


def replace_steps(host: Path) -> list[dict[str, Any]]:
    """The active set NEW is corrupt and the only good copy has its version: stage, exchange (the commit), retire."""
    store = host / "csapi"
    manifest = {n: {"size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in true_bytes(NEW).items()}
    staging = f".smsmse-staging-{NEW}-{uuid.uuid4().hex[:8]}"
    return [
        step("lock", store, {"stale_seconds": 900}),
        step("expect", store, {"definfo_sha256": digest(store / "definfo.dat")}),
        step("clean", store, {}, required=False),
        step("stage", store, {"source": str(host / "hawking" / NEW), "name": staging, "manifest": manifest}),
        step("exchange", store, {"a": staging, "b": NEW}, commit=True),
        step("retire", store, {"name": staging}, required=False),
        step("unlock", store, {}, required=False, always=True),
    ]


def corrupt_active(host: Path) -> dict[str, bytes | str]:
    """Make NEW the active set of csapi, with one file damaged; return its tree."""
    store = host / "csapi"
    shutil.rmtree(store / OLD)
    lab.write_set(store, NEW, FILES)
    corrupt = store / NEW / "virscan1.dat"
    corrupt.write_bytes(b"corrupt" + corrupt.read_bytes()[7:])
    (store / "definfo.dat").write_bytes(definfo_bytes(NEW))
    return tree(store / NEW)


def test_exchange_without_renameat2_killed_between_its_renames(host: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The two-rename fallback killed while the active name is missing: the next run's clean puts the folder back."""
    store = host / "csapi"
    before = corrupt_active(host)
    worker = start_worker(outcome.request(replace_steps(host)), tmp_path, {NO_RENAMEAT2: "1", KILL_AFTER_ASIDE: "1"})
    out, _err = worker.communicate("go\n", timeout=60)
    assert worker.returncode == -signal.SIGKILL, out
    assert current(store) == NEW and not (store / NEW).exists(), "the kill landed in the window: definfo.dat names a missing folder"
    opening = outcome.request(
        [
            step("lock", store, {"stale_seconds": 900}),
            step("expect", store, {"definfo_sha256": digest(store / "definfo.dat")}),
            step("clean", store, {}, required=False),
            step("unlock", store, {}, required=False, always=True),
        ]
    )
    read = outcome.interpret(opening, {"contract": 1, "op": "apply", **apply.run(opening)})
    assert not read["failed"], read["msg"]
    assert (store / NEW).is_dir() and tree(store / NEW) == before, "the folder definfo.dat names is back, whole"
    assert sorted(p.name for p in store.iterdir()) == [NEW, "definfo.dat"]
    assert read["changed"] and read["restored"] == [NEW], "putting a set back under its name is a change, and said"
    monkeypatch.setattr(primitives, "RENAMEAT2", None)
    request = outcome.request(replace_steps(host))
    read = outcome.interpret(request, {"contract": 1, "op": "apply", **apply.run(request)})
    assert not read["failed"], read["msg"]
    assert tree(store / NEW) == true_bytes(NEW)
    assert sorted(p.name for p in store.iterdir()) == [NEW, "definfo.dat"]


@pytest.mark.skipif(primitives.RENAMEAT2 is None, reason="the C library has no renameat2: exchange is not atomic here")
def test_replacing_the_active_set_in_place_killed_at_random_moments(host: Path, tmp_path: Path) -> None:
    """With renameat2 the active set's name always holds a whole folder: the corrupt one or the good copy."""
    store = host / "csapi"
    before = corrupt_active(host)
    pristine = tmp_path / "pristine"
    shutil.copytree(host, pristine, symlinks=True)
    started = time.perf_counter()
    apply.run(outcome.request(replace_steps(host)))
    duration = time.perf_counter() - started
    rng = random.Random(20261128)
    seen = {"old": 0, "new": 0}
    for _round in range(60):
        shutil.rmtree(host)
        shutil.copytree(pristine, host, symlinks=True)
        worker = start_worker(outcome.request(replace_steps(host)), tmp_path)
        assert worker.stdin is not None and worker.stdout is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0, duration * 1.3))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
        worker.stdin.close()
        now = tree(store / NEW)
        assert now in (before, true_bytes(NEW)), "the active set's name holds a whole folder"
        seen["new" if now == true_bytes(NEW) else "old"] += 1
        request = outcome.request(replace_steps(host))
        read = outcome.interpret(request, {"contract": 1, "op": "apply", **apply.run(request)})
        assert not read["failed"], read["msg"]
        assert tree(store / NEW) == true_bytes(NEW)
        assert sorted(p.name for p in store.iterdir()) == [NEW, "definfo.dat"]
    assert seen["old"] > 0 and seen["new"] > 0, f"the kills never landed on both sides of the exchange: {seen}"
