"""The POSIX agent's changing operations on real folders: success, refusals, faults, crashes and races."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import store_ops
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import parse_definfo

WORKER = Path(__file__).with_name("store_worker.py")
OLD, MID, NEW = "20261123.001", "20261124.002", "20261125.003"
FILES = (*((f"virscan{i}.dat", 24 * 1024) for i in range(1, 13)), ("naveng32.dll", 4096), ("navex32a.dll", 4096))


def manifest_of(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def definfo_bytes(version: str) -> bytes:
    return f"[DefDates]\r\nCurDefs={version}\r\n\r\n[Keep]\r\nMe=1\r\n".encode()


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A host with hawking OLD/MID/NEW and a stale CSAPI store at OLD."""
    root = tmp_path / "host"
    for version in (OLD, MID, NEW):
        lab.write_set(root / "hawking", version, FILES)
    lab.write_set(root / "csapi", OLD, FILES)
    (root / "csapi" / "definfo.dat").write_bytes(definfo_bytes(OLD))
    return root


def install_request(host: Path, version: str = NEW, **changes: Any) -> dict[str, Any]:
    store = host / "csapi"
    request = {
        "store": str(store),
        "source": str(host / "hawking" / version),
        "version": version,
        "manifest": manifest_of(host / "hawking" / version),
        "expect": {"definfo_sha256": store_ops.definfo_digest(str(store)), "active": current(store)},
        "definfo_b64": base64.b64encode(definfo_bytes(version)).decode(),
        "fallback_definfo_b64": None,
        "remove": [],
        "protect": [],
        "lock_stale_seconds": 900,
        "cache_dir": str(host / "cache"),
        "events": [{"id": 1000, "type": "Information", "message": f"promoted {version}"}],
        "events_file": str(host / "events.jsonl"),
        "restart": None,
    }
    request.update(changes)
    return request


def current(store: Path) -> str | None:
    try:
        return parse_definfo((store / "definfo.dat").read_bytes()).cur_defs
    except FileNotFoundError:
        return None


def assert_points_at_a_complete_set(store: Path) -> str:
    """The invariant: definfo.dat names a folder whose files are exactly the set's true bytes."""
    version = current(store)
    assert version is not None
    folder = store / version
    expected = {name: lab.file_bytes(version, name, size) for name, size in FILES}
    expected["zdone.dat"] = b"done\r\n"
    actual = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert actual == expected, f"{version} is not complete"
    return version


def leftovers(store: Path) -> list[str]:
    return sorted(p.name for p in store.iterdir() if p.name.startswith(".smsmse"))


def test_install_swaps_and_keeps_other_keys(host: Path) -> None:
    outcome = store_ops.install_set(install_request(host, remove=[OLD]))
    store = host / "csapi"
    assert outcome["result"] == "done", outcome
    assert outcome["installed"] is True
    assert outcome["bytes_copied"] == sum(size for _name, size in FILES) + 6
    assert outcome["removed"] == [OLD]
    assert assert_points_at_a_complete_set(store) == NEW
    assert (store / "definfo.dat").read_bytes() == definfo_bytes(NEW)
    assert outcome["definfo_sha256"] == hashlib.sha256(definfo_bytes(NEW)).hexdigest()
    assert leftovers(store) == []
    assert not (store / OLD).exists()
    assert (store / NEW / "virscan1.dat").stat().st_mtime_ns == (host / "hawking" / NEW / "virscan1.dat").stat().st_mtime_ns
    events = [json.loads(line) for line in (host / "events.jsonl").read_text().splitlines()]
    assert [(e["id"], e["source"]) for e in events] == [(1000, "mailsec.smsmse")]


def test_protected_and_installed_sets_are_never_removed(host: Path) -> None:
    outcome = store_ops.install_set(install_request(host, remove=[OLD, NEW], protect=[OLD]))
    assert outcome["removed"] == []
    assert (host / "csapi" / OLD).is_dir() and (host / "csapi" / NEW).is_dir()


def test_conflict_changes_nothing(host: Path) -> None:
    request = install_request(host)
    (host / "csapi" / "definfo.dat").write_bytes(definfo_bytes(OLD) + b"; touched by SMSMSE\r\n")
    before = (host / "csapi" / "definfo.dat").read_bytes()
    outcome = store_ops.install_set(request)
    assert outcome["result"] == "conflict"
    assert "definfo.dat changed since it was read" in outcome["message"]
    assert (host / "csapi" / "definfo.dat").read_bytes() == before
    assert sorted(p.name for p in (host / "csapi").iterdir()) == [OLD, "definfo.dat"]


def test_live_lock_refuses_and_stale_lock_is_broken(host: Path) -> None:
    lock = host / "csapi" / store_ops.LOCK
    lock.write_text(json.dumps({"pid": os.getpid(), "host": os.uname().nodename, "created": time.time(), "token": "x"}))
    outcome = store_ops.install_set(install_request(host))
    assert outcome["result"] == "locked"
    assert current(host / "csapi") == OLD
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lock.write_text(json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename, "created": time.time(), "token": "x"}))
    outcome = store_ops.install_set(install_request(host))
    assert outcome["result"] == "done"
    assert outcome["lock_broken"] == f"its process {int(dead.stdout)} is gone"
    assert not lock.exists()
    old = host / "other"
    old.mkdir()
    (old / "definfo.dat").write_bytes(definfo_bytes(OLD))
    (old / store_ops.LOCK).write_text(json.dumps({"pid": 1, "host": "another-host", "created": time.time() - 3600, "token": "y"}))
    with store_ops.StoreLock(str(old), 600) as taken:
        assert taken.broke == "it is 3600 s old"


def test_source_changed_after_verification(host: Path) -> None:
    request = install_request(host)
    target = host / "hawking" / NEW / "virscan3.dat"
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    outcome = store_ops.install_set(request)
    assert outcome["result"] == "source_changed"
    assert outcome["message"] == "virscan3.dat in the source set changed after it was verified"
    assert current(host / "csapi") == OLD
    assert leftovers(host / "csapi") == []
    (host / "hawking" / NEW / "extra.dat").write_bytes(b"new")
    assert store_ops.install_set(request)["result"] == "source_changed"


def test_replacing_the_active_set_uses_the_fallback(host: Path) -> None:
    store = host / "csapi"
    lab.write_set(store, NEW, FILES)
    (store / NEW / "virscan1.dat").write_bytes(b"corrupt")
    (store / "definfo.dat").write_bytes(definfo_bytes(NEW))
    refused = store_ops.install_set(install_request(host))
    assert refused["result"] == "no_fallback"
    assert leftovers(store) == []
    outcome = store_ops.install_set(install_request(host, fallback_definfo_b64=base64.b64encode(definfo_bytes(OLD)).decode()))
    assert outcome["result"] == "done" and outcome["installed"] is True
    assert assert_points_at_a_complete_set(store) == NEW


def test_already_installed_set_is_not_copied_again(host: Path) -> None:
    store_ops.install_set(install_request(host))
    (host / "csapi" / "definfo.dat").write_bytes(definfo_bytes(OLD))
    outcome = store_ops.install_set(install_request(host))
    assert outcome["result"] == "done"
    assert outcome["installed"] is False and outcome["bytes_copied"] == 0


def test_leftovers_of_a_crashed_run_are_removed(host: Path) -> None:
    store = host / "csapi"
    (store / f"{store_ops.STAGING}{NEW}-dead").mkdir()
    (store / f"{store_ops.TRASH}{OLD}-dead").mkdir()
    (store / ".smsmse-definfo-x.tmp").write_bytes(b"half")
    outcome = store_ops.install_set(install_request(host))
    assert sorted(outcome["cleaned"]) == sorted([f"{store_ops.STAGING}{NEW}-dead", f"{store_ops.TRASH}{OLD}-dead", ".smsmse-definfo-x.tmp"])
    assert leftovers(store) == []


def test_set_pointer_checks_the_set_and_quarantines(host: Path) -> None:
    store = host / "csapi"
    lab.write_set(store, NEW, FILES)
    (store / NEW / "virscan1.dat").write_bytes(b"corrupt")
    (store / "definfo.dat").write_bytes(definfo_bytes(NEW))
    request = {
        "store": str(store),
        "version": OLD,
        "manifest": manifest_of(store / OLD),
        "expect": {"definfo_sha256": store_ops.definfo_digest(str(store)), "active": NEW},
        "definfo_b64": base64.b64encode(definfo_bytes(OLD)).decode(),
        "quarantine": [NEW],
        "quarantine_dir": str(host / "quarantine"),
        "lock_stale_seconds": 900,
        "cache_dir": None,
        "events": [],
        "events_file": None,
        "restart": None,
    }
    outcome = store_ops.set_pointer(request)
    assert outcome["result"] == "done", outcome
    assert current(store) == OLD
    (moved,) = outcome["quarantined"]
    assert Path(moved).parent == host / "quarantine" and (Path(moved) / "virscan1.dat").read_bytes() == b"corrupt"
    assert not (store / NEW).exists()
    (store / OLD / "virscan2.dat").write_bytes(b"changed")
    request["expect"] = {"definfo_sha256": store_ops.definfo_digest(str(store)), "active": OLD}
    assert store_ops.set_pointer(request)["result"] == "conflict"


def _file_size_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))


def run_worker(op: str, request: dict[str, Any], tmp: Path, preexec: Callable[[], None] | None = None) -> dict[str, Any]:
    request_file = tmp / f"request-{random.randrange(1 << 30)}.json"
    request_file.write_text(json.dumps(request))
    request_file.chmod(0o644)
    done = subprocess.run(
        [sys.executable, str(WORKER), op, str(request_file)],
        input="go\n",
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        check=True,
        timeout=60,
    )
    outcome: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return outcome


def test_read_only_store_is_a_clean_failure(host: Path) -> None:
    store = host / "csapi"
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(store)], capture_output=True, check=False).returncode:
        pytest.skip("chattr +i (an immutable folder, read-only even for root) is not available here")
    try:
        outcome = store_ops.install_set(install_request(host))
    finally:
        subprocess.run(["chattr", "-i", str(store)], check=True)
    assert outcome["result"] == "failed"
    assert outcome["message"].startswith(("EPERM: Operation not permitted", "EACCES: Permission denied"))
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in store.iterdir()) == [OLD, "definfo.dat"]


def test_no_space_while_copying_is_a_clean_failure(host: Path, tmp_path: Path) -> None:
    outcome = run_worker("install_set", install_request(host), tmp_path, _file_size_limit)
    assert outcome["result"] == "failed"
    assert outcome["message"].startswith("EFBIG: File too large")
    assert current(host / "csapi") == OLD
    assert leftovers(host / "csapi") == []


def test_two_promotes_at_once_one_wins(host: Path, tmp_path: Path) -> None:
    request = install_request(host)
    files = []
    for n in range(2):
        files.append(tmp_path / f"race-{n}.json")
        files[-1].write_text(json.dumps(request))
    workers = [
        subprocess.Popen([sys.executable, str(WORKER), "install_set", str(f)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for f in files
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = sorted(json.loads(w.communicate(timeout=60)[0].splitlines()[-1])["result"] for w in workers)
    assert results.count("done") == 1, results
    assert next(r for r in results if r != "done") in ("conflict", "locked"), results
    assert assert_points_at_a_complete_set(host / "csapi") == NEW


def crash_rounds(host: Path, tmp_path: Path, rounds: int) -> dict[str, int]:
    """Kill install_set at random moments; after every kill the invariant holds and the next run converges."""
    pristine = tmp_path / "pristine"
    shutil.copytree(host, pristine, symlinks=True)
    request_file = tmp_path / "crash.json"
    started = time.perf_counter()
    store_ops.install_set(install_request(host, remove=[OLD], cache_dir=None))
    duration = time.perf_counter() - started
    rng = random.Random(20261126)
    seen = {"old": 0, "new": 0}
    for _round in range(rounds):
        shutil.rmtree(host)
        shutil.copytree(pristine, host, symlinks=True)
        request_file.write_text(json.dumps(install_request(host, remove=[OLD], cache_dir=None)))
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), "install_set", str(request_file)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready"
        worker.stdin.write("go\n")
        worker.stdin.flush()
        time.sleep(rng.uniform(0, duration * 1.3))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdout.close()
        worker.stdin.close()
        version = assert_points_at_a_complete_set(host / "csapi")
        seen["new" if version == NEW else "old"] += 1
        final = store_ops.install_set(install_request(host, remove=[OLD], cache_dir=None))
        assert final["result"] == "done", final
        assert assert_points_at_a_complete_set(host / "csapi") == NEW
        assert leftovers(host / "csapi") == []
        assert sorted(p.name for p in (host / "csapi").iterdir()) == [NEW, "definfo.dat"]
    return seen


def test_killed_at_random_moments_the_store_stays_sound(host: Path, tmp_path: Path) -> None:
    seen = crash_rounds(host, tmp_path, 200)
    assert seen["old"] + seen["new"] == 200
    assert seen["old"] > 0 and seen["new"] > 0, f"the kills never landed on both sides of the swap: {seen}"


@pytest.mark.slow
def test_killed_at_random_moments_many_more_times(host: Path, tmp_path: Path) -> None:
    seen = crash_rounds(host, tmp_path, 2000)
    assert seen["old"] > 0 and seen["new"] > 0
