"""The apply primitives on real folders, beyond the shared case table: fallbacks, faults, hostile arguments, locks."""

from __future__ import annotations

import base64
import ctypes
import errno
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, primitives, set_copy
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import sha256_file
from ansible_collections.mailsec.smsmse.plugins.module_utils.store_lock import boot_id
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .apply_host import chattr_works, complete, current, definfo_bytes, other_volume_root, tree, true_manifest

OLD, NEW = "20261123.001", "20261125.003"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "csapi"
    lab.write_set(folder, OLD)
    (folder / "definfo.dat").write_bytes(definfo_bytes(OLD))
    return folder


def run(*steps: dict[str, Any], valid: bool = True) -> dict[str, Any]:
    request = {"wire": contract.wire(), "cache_dir": None, "steps": list(steps)}
    reply = {"contract": 1, "op": "apply", **apply.run(request)}
    assert (contract.problems("apply", "reply", reply) == []) is valid
    return reply


def step(op: str, store: Path, required: bool = True, always: bool = False, **args: Any) -> dict[str, Any]:
    return {"op": op, "store": str(store), "required": required, "always": always, "commit": False, "args": args}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- exchange ---


def test_exchange_swaps_atomically_where_the_kernel_can(store: Path) -> None:
    lab.write_set(store, ".smsmse-staging-x")
    reply = run(step("exchange", store, a=".smsmse-staging-x", b=OLD))
    assert reply["steps"][0]["result"] == "done"
    assert reply["steps"][0]["data"]["atomic"] is (primitives.RENAMEAT2 is not None)


@pytest.mark.parametrize("fault", ["no_symbol", "einval", "enosys"])
def test_exchange_falls_back_to_two_renames(store: Path, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    def refusing(*_args: Any) -> int:
        ctypes.set_errno(errno.EINVAL if fault == "einval" else errno.ENOSYS)
        return -1

    monkeypatch.setattr(primitives, "RENAMEAT2", None if fault == "no_symbol" else refusing)
    lab.write_set(store, ".smsmse-staging-x")
    (store / ".smsmse-staging-x" / "new.dat").write_bytes(b"new")
    reply = run(step("exchange", store, a=".smsmse-staging-x", b=OLD))
    assert (reply["steps"][0]["result"], reply["steps"][0]["data"]) == ("done", {"atomic": False})
    assert (store / OLD / "new.dat").read_bytes() == b"new"
    assert complete(store / ".smsmse-staging-x", OLD), "a holds what b held"
    assert sorted(p.name for p in store.iterdir()) == [".smsmse-staging-x", OLD, "definfo.dat"]


def test_exchange_fallback_puts_b_back_when_the_second_rename_fails(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(primitives, "RENAMEAT2", None)
    lab.write_set(store, ".smsmse-staging-x")
    real = os.rename

    def failing(src: Any, dst: Any) -> None:
        if str(src).endswith(".smsmse-staging-x"):
            raise OSError(errno.EIO, "Input/output error", str(src))
        real(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    reply = run(step("exchange", store, a=".smsmse-staging-x", b=OLD))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "EIO")
    assert complete(store / OLD, OLD), "b is back under its name"
    assert sorted(p.name for p in store.iterdir()) == [".smsmse-staging-x", OLD, "definfo.dat"]


def test_exchange_of_a_missing_folder_is_a_conflict(store: Path) -> None:
    # nothing moved: a conflict (not started), never "failed", which the controller reads as a commit that may have happened
    reply = run(step("exchange", store, a=".smsmse-staging-gone", b=OLD))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("conflict", None)
    assert complete(store / OLD, OLD)


# --- write_pointer ---


def test_write_pointer_keeps_the_mode_and_returns_what_is_there(store: Path) -> None:
    (store / "definfo.dat").chmod(0o640)
    new = definfo_bytes(NEW)
    reply = run(step("write_pointer", store, content_b64=base64.b64encode(new).decode(), expect_sha256=sha(definfo_bytes(OLD))))
    assert reply["steps"][0]["data"] == {"sha256": sha(new), "kind": "file"}
    assert (store / "definfo.dat").read_bytes() == new
    assert stat.S_IMODE((store / "definfo.dat").stat().st_mode) == 0o640
    assert [p.name for p in store.iterdir() if p.name.startswith(".smsmse")] == []


def test_write_pointer_checks_the_digest_right_before_replacing(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = primitives.pointer_state
    calls = []

    def changing(path: str) -> tuple[str, str | None]:
        calls.append(path)
        if len(calls) == 2:  # the product's copy job rewrites definfo.dat while the new one is written
            Path(path).write_bytes(definfo_bytes("20261124.002"))
        return real(path)

    monkeypatch.setattr(primitives, "pointer_state", changing)
    reply = run(
        step("write_pointer", store, content_b64=base64.b64encode(definfo_bytes(NEW)).decode(), expect_sha256=sha(definfo_bytes(OLD)))
    )
    assert reply["steps"][0]["result"] == "conflict"
    assert reply["steps"][0]["data"] == {"sha256": sha(definfo_bytes("20261124.002")), "kind": "file"}
    assert current(store) == "20261124.002"
    assert [p.name for p in store.iterdir() if p.name.startswith(".smsmse")] == []


def test_write_pointer_refuses_oversized_content(store: Path) -> None:
    big = base64.b64encode(b"x" * (contract.wire()["limits"]["max_definfo_bytes"] + 1)).decode()
    reply = run(step("write_pointer", store, content_b64=big, expect_sha256=sha(definfo_bytes(OLD))))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "BAD_REQUEST")
    assert current(store) == OLD


# --- preflight ---


def test_preflight_catches_an_append_only_pointer(store: Path, tmp_path: Path) -> None:
    if not chattr_works(tmp_path):
        pytest.skip("chattr is not available here")
    subprocess.run(["chattr", "+a", str(store / "definfo.dat")], check=True)
    try:
        reply = run(step("preflight", store, pointer_writable=True, same_volume=[], free_bytes=0, not_in_use=[]))
    finally:
        subprocess.run(["chattr", "-a", str(store / "definfo.dat")], check=True)
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("refused", "POINTER_NOT_WRITABLE")
    assert [p.name for p in store.iterdir() if p.name.startswith(".smsmse")] == []


def test_preflight_reports_what_it_checked(store: Path, tmp_path: Path) -> None:
    reply = run(step("preflight", store, pointer_writable=True, same_volume=[str(tmp_path / "q" / "r")], free_bytes=1, not_in_use=[OLD]))
    assert reply["steps"][0]["data"] == {"checked": ["pointer_writable", "same_volume", "free_bytes"]}


def test_a_pointer_that_is_a_fifo_never_blocks(store: Path) -> None:
    """A hostile definfo.dat: a FIFO with no writer would block a plain open forever. It is never opened, only replaced."""
    (store / "definfo.dat").unlink()
    os.mkfifo(store / "definfo.dat")
    reply = run(
        step("preflight", store, pointer_writable=True, same_volume=[], free_bytes=0, not_in_use=[]),
        step("expect", store, required=False, definfo_sha256=None),
        step("expect", store, definfo_sha256=None, definfo_kind="other"),
        step("write_pointer", store, content_b64=base64.b64encode(definfo_bytes(NEW)).decode(), expect_sha256=None, expect_kind="other"),
    )
    assert [(s["result"], s["code"]) for s in reply["steps"]] == [("done", None), ("conflict", None), ("done", None), ("done", None)]
    assert reply["steps"][1]["data"] == {"sha256": None, "kind": "other"}, "a FIFO is not an absent file"
    assert (store / "definfo.dat").is_file() and current(store) == NEW


def test_a_pointer_link_is_compared_as_a_link_and_replaced_itself(store: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.dat"
    elsewhere.write_bytes(definfo_bytes(OLD))
    (store / "definfo.dat").unlink()
    (store / "definfo.dat").symlink_to(elsewhere)
    new = base64.b64encode(definfo_bytes(NEW)).decode()
    reply = run(
        step("expect", store, required=False, definfo_sha256=sha(definfo_bytes(OLD))),
        step("write_pointer", store, required=False, content_b64=new, expect_sha256=sha(definfo_bytes(OLD))),
        step("expect", store, definfo_sha256=None, definfo_kind="link"),
        step("write_pointer", store, content_b64=new, expect_sha256=None, expect_kind="link"),
    )
    assert [s["result"] for s in reply["steps"]] == ["conflict", "conflict", "done", "done"], "the link's target is never what is compared"
    assert not (store / "definfo.dat").is_symlink() and current(store) == NEW
    assert elsewhere.read_bytes() == definfo_bytes(OLD), "never written through the link"


# --- clean ---


def test_clean_is_best_effort_per_leftover(store: Path, tmp_path: Path) -> None:
    if not chattr_works(tmp_path):
        pytest.skip("chattr is not available here")
    stuck = store / ".smsmse-trash-stuck"
    stuck.mkdir()
    (stuck / "held.dat").write_bytes(b"x")
    (store / ".smsmse-staging-gone").mkdir()
    subprocess.run(["chattr", "+i", str(stuck / "held.dat")], check=True)
    try:
        reply = run(step("clean", store, required=False))
    finally:
        subprocess.run(["chattr", "-i", str(stuck / "held.dat")], check=True)
    report = reply["steps"][0]
    assert (report["result"], report["code"]) == ("failed", "LEFTOVERS_REMAIN")
    assert report["data"] == {"removed": [".smsmse-staging-gone"], "remaining": [".smsmse-trash-stuck"]}
    assert ".smsmse-trash-stuck: EPERM" in report["message"]


def test_clean_removes_abandoned_lock_files_but_not_a_live_runs(store: Path) -> None:
    from ansible_collections.mailsec.smsmse.plugins.module_utils.store_lock import host_tag

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    (store / f".smsmse-lock-{host_tag()}-{int(dead.stdout)}-abc.tmp").write_text("{}")
    (store / f".smsmse-lock-{host_tag()}-{os.getpid()}-def.tmp").write_text("{}")
    (store / ".smsmse-lock.stale-0123").write_text("{}")
    (store / ".smsmse-lock.break").write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "boot_id": boot_id()}))
    reply = run(step("clean", store))
    assert reply["steps"][0]["data"]["removed"] == [
        f".smsmse-lock-{host_tag()}-{int(dead.stdout)}-abc.tmp",
        ".smsmse-lock.break",
        ".smsmse-lock.stale-0123",
    ]
    assert (store / f".smsmse-lock-{host_tag()}-{os.getpid()}-def.tmp").exists()
    (store / ".smsmse-lock.break").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "boot_id": boot_id()}))
    assert run(step("clean", store))["steps"][0]["data"]["removed"] == []


def write_record(path: Path, pid: int) -> None:
    path.write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "boot_id": boot_id(), "created": time.time(), "token": "t"}))


def test_a_breaker_that_died_does_not_block_the_next(store: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    write_record(store / ".smsmse-lock", int(dead.stdout))
    write_record(store / ".smsmse-lock.break", int(dead.stdout))
    reply = run(step("lock", store, stale_seconds=900), step("unlock", store))
    assert reply["steps"][0]["data"] == {"broken": f"its process {int(dead.stdout)} is gone"}
    assert sorted(p.name for p in store.iterdir()) == [OLD, "definfo.dat"]


def test_a_live_breaker_makes_others_wait(store: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    write_record(store / ".smsmse-lock", int(dead.stdout))
    write_record(store / ".smsmse-lock.break", os.getpid())
    reply = run(step("lock", store, stale_seconds=900))
    assert reply["steps"][0]["result"] == "locked"
    assert "another run is breaking the store's abandoned lock" in reply["steps"][0]["message"]
    assert (store / ".smsmse-lock").exists()


# --- lock ---


def test_a_live_owners_lock_is_never_broken_nor_its_staging_folder_touched(store: Path) -> None:
    """Issue 10: another run, alive, holds the lock for longer than stale_seconds while it copies."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"pid": owner.pid, "host": socket.gethostname(), "boot_id": boot_id(), "created": time.time() - 86400, "token": "t"}
        (store / ".smsmse-lock").write_text(json.dumps(record))
        old = time.time() - 86400
        os.utime(store / ".smsmse-lock", (old, old))
        (store / ".smsmse-staging-20261125.003-busy").mkdir()
        reply = run(step("lock", store, stale_seconds=1), step("clean", store, required=False), step("unlock", store, always=True))
    finally:
        owner.kill()
        owner.wait()
    assert [s["result"] for s in reply["steps"]] == ["locked", "skipped", "done"]
    assert f"process {owner.pid}" in reply["steps"][0]["message"]
    assert (store / ".smsmse-staging-20261125.003-busy").is_dir()
    assert json.loads((store / ".smsmse-lock").read_text()) == record


def test_a_request_that_forgets_to_unlock_leaves_no_lock(store: Path) -> None:
    reply = run(step("lock", store, stale_seconds=900))
    assert not (store / ".smsmse-lock").exists()
    assert reply["warnings"] == [f"the request did not unlock {store}; the lock was released"]


def test_unlock_never_removes_another_runs_lock(store: Path) -> None:
    reply = run(step("lock", store, stale_seconds=900), step("unlock", store))
    assert [s["result"] for s in reply["steps"]] == ["done", "done"]
    (store / ".smsmse-lock").write_text("someone else's")
    assert run(step("unlock", store))["steps"][0]["result"] == "done"
    assert (store / ".smsmse-lock").read_text() == "someone else's"


# --- hostile arguments and faults: a step never crashes the agent ---


@pytest.mark.parametrize(
    ("op", "args"),
    [
        ("rename", {"from": "../outside", "to": NEW}),
        ("rename", {"from": OLD, "to": "sub/" + NEW}),
        ("retire", {"name": ".."}),
        ("matches", {"name": OLD, "manifest": {"../../etc/passwd": {"size": 1, "sha256": "0" * 64}}}),
        ("quarantine", {"name": OLD, "dest_dir": "/tmp", "dest_name": "../x"}),
        ("write_pointer", {"content_b64": "not base64!", "expect_sha256": None}),
        ("lock", {}),
    ],
)
def test_hostile_arguments_fail_the_step_and_touch_nothing(store: Path, op: str, args: dict[str, Any]) -> None:
    before = tree(store.parent)
    reply = run(step(op, store, **args))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "BAD_REQUEST"), reply
    assert tree(store.parent) == before


def test_a_relative_store_or_an_unknown_op_fails_the_step(store: Path) -> None:
    reply = run(
        {**step("clean", store), "store": "relative/csapi"}, {**step("clean", store, always=True), "op": "format_disk"}, valid=False
    )
    assert [(s["result"], s["code"]) for s in reply["steps"]] == [("failed", "BAD_REQUEST"), ("failed", "BAD_REQUEST")]
    assert reply["steps"][1]["message"] == "unknown step 'format_disk'"  # the reply then breaks the contract, as the request did


def test_an_unexpected_exception_is_a_failed_step(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setitem(apply.PRIMITIVES, "clean", broken)
    reply = run(step("clean", store, required=False), step("expect", store, definfo_sha256=sha(definfo_bytes(OLD))))
    assert [(s["result"], s["code"]) for s in reply["steps"]] == [("failed", "RuntimeError"), ("done", None)]
    assert reply["steps"][0]["message"] == "RuntimeError: boom"


def test_messages_are_bounded(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def noisy(*_args: Any) -> dict[str, Any]:
        raise OSError(errno.EIO, "x" * 10000, str(store))

    monkeypatch.setitem(apply.PRIMITIVES, "clean", noisy)
    assert len(run(step("clean", store))["steps"][0]["message"]) == 4096


def test_stage_refuses_a_source_that_is_a_link(store: Path, tmp_path: Path) -> None:
    real = lab.write_set(tmp_path / "hawking", NEW)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    reply = run(step("stage", store, source=str(tmp_path / "link"), name=".smsmse-staging-x", manifest=true_manifest(NEW)))
    assert reply["steps"][0]["result"] == "source_changed"
    assert not (store / ".smsmse-staging-x").exists()


def test_a_source_purged_while_it_is_copied_is_source_changed(store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = lab.write_set(tmp_path / "hawking", NEW)
    real = set_copy.copy_file

    def purging(src: str, dst: str, hasher: Any) -> tuple[int, str]:
        shutil.rmtree(source, ignore_errors=True)  # LiveUpdate removes the set after the first file
        return real(src, dst, hasher)

    monkeypatch.setattr(set_copy, "copy_file", purging)
    reply = run(step("stage", store, source=str(source), name=".smsmse-staging-x", manifest=true_manifest(NEW)))
    assert reply["steps"][0]["result"] == "source_changed", reply
    assert "left the source set while it was copied" in reply["steps"][0]["message"]
    assert not (store / ".smsmse-staging-x").exists()


def test_stage_into_an_existing_folder_fails_and_keeps_it(store: Path, tmp_path: Path) -> None:
    lab.write_set(tmp_path / "hawking", NEW)
    existing = store / ".smsmse-staging-left-by-another-run"
    existing.mkdir()
    (existing / "keep.dat").write_bytes(b"not this step's")
    reply = run(step("stage", store, source=str(tmp_path / "hawking" / NEW), name=existing.name, manifest=true_manifest(NEW)))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "EEXIST")
    assert [p.name for p in existing.iterdir()] == ["keep.dat"] and (existing / "keep.dat").read_bytes() == b"not this step's"


def test_stage_onto_a_set_name_is_a_bad_request_and_keeps_the_set(store: Path, tmp_path: Path) -> None:
    lab.write_set(tmp_path / "hawking", NEW)
    reply = run(step("stage", store, source=str(tmp_path / "hawking" / NEW), name=OLD, manifest=true_manifest(NEW)))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "BAD_REQUEST")
    assert "staging folder" in reply["steps"][0]["message"]
    assert complete(store / OLD, OLD)


# --- retire and quarantine ---


def test_retire_that_cannot_delete_leaves_a_trash_folder_and_says_so(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refusing(path: Any) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy", str(path))

    monkeypatch.setattr(shutil, "rmtree", refusing)
    (store / "definfo.dat").unlink()  # a set the pointer names is never retired
    reply = run(step("retire", store, name=OLD))
    report = reply["steps"][0]
    assert report["result"] == "done" and report["data"]["removed"] is False
    assert report["data"]["trash"].startswith(f".smsmse-trash-{OLD}-")
    assert not (store / OLD).exists()
    assert "could not be deleted yet" in reply["warnings"][0]


def test_quarantine_across_volumes_never_deletes_before_a_verified_copy(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = other_volume_root(tmp_path)
    if other is None:
        pytest.skip("no second file system here: /dev/shm is missing or on the same device as the test folder")
    (store / "definfo.dat").write_bytes(definfo_bytes("20261120.001"))  # a set the pointer names is never quarantined
    try:
        real = sha256_file

        def lying(path: str) -> str:
            return "0" * 64 if path.endswith("virscan1.dat") and str(other) in path else real(path)

        monkeypatch.setattr("ansible_collections.mailsec.smsmse.plugins.module_utils.set_removal.sha256_file", lying)
        reply = run(step("quarantine", store, name=OLD, dest_dir=str(other / "q"), dest_name="csapi-x"))
        assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("failed", "EIO")
        assert complete(store / OLD, OLD), "the set stays in the store"
        assert list((other / "q").iterdir()) == [], "no partial copy is left in the quarantine"
        monkeypatch.setattr("ansible_collections.mailsec.smsmse.plugins.module_utils.set_removal.sha256_file", real)
        reply = run(step("quarantine", store, name=OLD, dest_dir=str(other / "q"), dest_name="csapi-x"))
        assert reply["steps"][0]["data"] == {
            "destination": str(other / "q" / "csapi-x"),
            "copied": True,
            "bytes_copied": sum(size for _name, size in lab.DEFAULT_FILES) + 6,
        }
        assert complete(other / "q" / "csapi-x", OLD) and not (store / OLD).exists()
        assert sorted(p.name for p in store.iterdir()) == ["definfo.dat"]
    finally:
        shutil.rmtree(other, ignore_errors=True)


def test_quarantine_never_overwrites(store: Path, tmp_path: Path) -> None:
    (tmp_path / "q" / "csapi-x").mkdir(parents=True)
    reply = run(step("quarantine", store, name=OLD, dest_dir=str(tmp_path / "q"), dest_name="csapi-x"))
    assert (reply["steps"][0]["result"], reply["steps"][0]["code"]) == ("conflict", None)
    assert complete(store / OLD, OLD)


def test_event_without_an_events_file_says_so(store: Path) -> None:
    reply = run(step("event", store, required=False, events=[{"id": 1000, "type": "Information", "message": "m"}], events_file=None))
    assert reply["steps"][0]["data"] == {"written": 0}
    assert "no events file" in reply["steps"][0]["message"]


def test_a_failed_step_blocks_only_the_rest_of_its_group(store: Path, tmp_path: Path) -> None:
    other = tmp_path / "smsmse_hawking"
    lab.write_set(other, OLD)
    (other / "definfo.dat").write_bytes(definfo_bytes("20261120.001"))  # not the set retired: a named set is never retired
    first = [step("lock", store, stale_seconds=900), step("expect", store, definfo_sha256="0" * 64), step("retire", store, name=OLD)]
    second = [
        step("lock", other, stale_seconds=900),
        step("expect", other, definfo_sha256=sha(definfo_bytes("20261120.001"))),
        step("retire", other, name=OLD),
    ]
    unlock = [step("unlock", store, required=False, always=True), step("unlock", other, required=False, always=True)]
    reply = run(*first, *second, *unlock)
    assert [s["result"] for s in reply["steps"]] == ["done", "conflict", "skipped", "done", "done", "done", "done", "done"]
    assert (
        reply["steps"][2]["message"] == f"skipped: the required step 1 (expect in {store}) ended conflict: {reply['steps'][1]['message']}"
    )
    assert (store / OLD).is_dir() and not (other / OLD).exists()
