"""The POSIX agent's hashing and its cache: a second run reads nothing, any change is read again."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import hashing, scan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab


def scan_once(store: Path, cache_dir: Path, deep: bool = False) -> dict[str, object]:
    return scan.scan_store("csapi", str(store), facts.LIMITS, {"deep": deep, "cache_dir": str(cache_dir)})


def digests(record: dict[str, object]) -> dict[str, str]:
    dirs = record["dirs"]
    assert isinstance(dirs, list)
    return {f"{d['name']}/{f['path']}": f["sha256"] for d in dirs for f in d["files"]}


def test_streamed_digest_matches_hashlib(tmp_path: Path) -> None:
    data = os.urandom(3 * hashing.BUFFER + 17)
    (tmp_path / "big").write_bytes(data)
    assert hashing.sha256_file(str(tmp_path / "big")) == hashlib.sha256(data).hexdigest()


def test_second_run_hashes_nothing(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    first = scan_once(store, cache)
    total = sum(size for _name, size in lab.DEFAULT_FILES) + 6
    assert first["hash_stats"] == {"files_hashed": 7, "bytes_hashed": total, "files_cached": 0, "bytes_cached": 0, "cache_error": None}
    second = scan_once(store, cache)
    assert second["hash_stats"] == {"files_hashed": 0, "bytes_hashed": 0, "files_cached": 7, "bytes_cached": total, "cache_error": None}
    assert digests(first) == digests(second)
    name = "20261125.003/virscan1.dat"
    assert digests(first)[name] == hashlib.sha256((store / name).read_bytes()).hexdigest()


def test_changed_file_is_hashed_again(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    target = lab.write_set(store, "20261125.003") / "virscan1.dat"
    scan_once(store, cache)
    stat = target.stat()
    data = bytearray(target.read_bytes())
    data[0] ^= 1
    target.write_bytes(bytes(data))
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    again = scan_once(store, cache)
    assert again["hash_stats"]["files_hashed"] == 1  # type: ignore[index]
    assert digests(again)["20261125.003/virscan1.dat"] == hashlib.sha256(bytes(data)).hexdigest()


def test_replaced_file_with_same_size_and_mtime_is_hashed_again(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    target = lab.write_set(store, "20261125.003") / "virscan1.dat"
    scan_once(store, cache)
    stat = target.stat()
    replacement = target.with_name("new")
    replacement.write_bytes(b"x" * stat.st_size)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, target)  # same path, size and mtime; a new inode
    again = scan_once(store, cache)
    assert again["hash_stats"]["files_hashed"] == 1  # type: ignore[index]
    assert digests(again)["20261125.003/virscan1.dat"] == hashlib.sha256(b"x" * stat.st_size).hexdigest()


def test_deep_ignores_the_cache(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    scan_once(store, cache)
    assert scan_once(store, cache, deep=True)["hash_stats"]["files_cached"] == 0  # type: ignore[index]


def test_damaged_cache_is_rebuilt(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    scan_once(store, cache)
    (cache_file,) = cache.iterdir()
    cache_file.write_text("{broken")
    record = scan_once(store, cache)
    assert record["hash_stats"]["files_hashed"] == 7  # type: ignore[index]
    assert "unreadable, rebuilt" in record["hash_stats"]["cache_error"]  # type: ignore[index]
    assert scan_once(store, cache)["hash_stats"]["files_cached"] == 7  # type: ignore[index]


def test_unreadable_file_has_no_digest(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    target = lab.write_set(store, "20261125.003") / "virscan1.dat"
    target.chmod(0)
    try:
        readable = os.access(target, os.R_OK)  # root reads anything
        record = scan_once(store, cache)
    finally:
        target.chmod(0o644)
    assert (digests(record)["20261125.003/virscan1.dat"] is None) is not readable


def test_one_cache_file_per_store(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for name in ("a", "b"):
        lab.write_set(tmp_path / name, "20261125.003")
        scan_once(tmp_path / name, cache)
    assert len(list(cache.iterdir())) == 2


def test_tampered_bytes_with_the_mtime_restored_are_read_again(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    target = lab.write_set(store, "20261125.003") / "virscan1.dat"
    first = digests(scan_once(store, cache))["20261125.003/virscan1.dat"]
    before = target.stat()
    time.sleep(0.05)  # past the file system's clock tick, as any real tampering is
    with target.open("r+b") as handle:  # same inode, same size
        handle.write(b"\0" * 16)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (target.stat().st_size, target.stat().st_mtime_ns, target.stat().st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    again = scan_once(store, cache)
    assert again["hash_stats"]["files_hashed"] == 1  # type: ignore[index]
    assert digests(again)["20261125.003/virscan1.dat"] == hashlib.sha256(target.read_bytes()).hexdigest() != first


def test_entries_expire_between_half_and_all_of_the_maximum_age(tmp_path: Path) -> None:
    target = lab.write_set(tmp_path / "store", "20261125.003") / "virscan1.dat"
    now = [1_000_000.0]
    cache_dir = str(tmp_path / "cache")

    def run(max_age: int = 1000) -> hashing.HashCache:
        cache = hashing.HashCache(cache_dir, str(tmp_path / "store"), True, max_age, clock=lambda: now[0])
        cache.digest(str(target), target.stat())
        cache.save()
        return cache

    assert run().stats["files_hashed"] == 1
    expires = 1000 * (0.5 + 0.5 * hashing.spread(str(target)))
    assert 500 <= expires < 1000
    now[0] += expires - 1
    assert run().stats["files_cached"] == 1
    now[0] += 1
    assert run().stats["files_hashed"] == 1  # read again, and the entry starts over
    now[0] += expires - 1
    assert run().stats["files_cached"] == 1
    assert run(max_age=0).stats["files_hashed"] == 1  # 0: the cache is never used


def test_an_entry_from_the_future_or_an_older_cache_format_is_not_trusted(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    scan_once(store, cache)
    (cache_file,) = cache.iterdir()
    document = json.loads(cache_file.read_text())
    assert document["version"] == 2
    future = {path: [*entry[:5], entry[5] + 10**6] for path, entry in document["entries"].items()}
    cache_file.write_text(json.dumps({"version": 2, "entries": future}))
    assert scan_once(store, cache)["hash_stats"]["files_hashed"] == 7  # type: ignore[index]
    old = {path: [entry[0], entry[1], entry[3], entry[4]] for path, entry in document["entries"].items()}
    cache_file.write_text(json.dumps({"version": 1, "entries": old}))
    assert scan_once(store, cache)["hash_stats"]["files_hashed"] == 7  # type: ignore[index]


# --- a cache another user could write is no shortcut: they would forge "verified" digests ---

FORGED = "0" * 64
STRANGER = 4242  # a uid that is not the agent's
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


def forge(cache: Path) -> None:
    """Every entry of the cache says the file's bytes are FORGED, as an attacker who can write the cache would."""
    (cache_file,) = (p for p in cache.iterdir() if p.suffix == ".json")
    document = json.loads(cache_file.read_text())
    document["entries"] = {path: [*entry[:4], FORGED, entry[5]] for path, entry in document["entries"].items()}
    cache_file.write_text(json.dumps(document))


def _cache_file(cache: Path) -> Path:
    return next(p for p in cache.iterdir() if p.suffix == ".json")


def _swap_folder_for_link(cache: Path) -> None:
    elsewhere = cache.with_name("elsewhere")
    cache.rename(elsewhere)
    cache.symlink_to(elsewhere)


def _swap_file_for_link(cache: Path) -> None:
    target = _cache_file(cache)
    elsewhere = cache.parent / "forged.json"
    target.rename(elsewhere)
    target.symlink_to(elsewhere)


UNSAFE_CACHES = [
    pytest.param(lambda c: _cache_file(c).chmod(0o666), "writable by group or others", id="file world-writable"),
    pytest.param(lambda c: _cache_file(c).chmod(0o620), "writable by group or others", id="file group-writable"),
    pytest.param(lambda c: c.chmod(0o777), "writable by group or others", id="folder world-writable"),
    pytest.param(lambda c: c.chmod(0o770), "writable by group or others", id="folder group-writable"),
    pytest.param(lambda c: os.chown(_cache_file(c), STRANGER, -1), "owned by uid 4242", id="file of another user", marks=as_root),
    pytest.param(lambda c: os.chown(c, STRANGER, -1), "owned by uid 4242", id="folder of another user", marks=as_root),
    pytest.param(_swap_folder_for_link, "link", id="folder a symlink"),
    pytest.param(_swap_file_for_link, "link", id="file a symlink"),
]


@pytest.mark.parametrize(("make_unsafe", "why"), UNSAFE_CACHES)
def test_a_cache_another_user_could_write_is_not_read(tmp_path: Path, make_unsafe: Any, why: str) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    honest = digests(scan_once(store, cache))
    forge(cache)
    make_unsafe(cache)
    record = scan_once(store, cache)
    assert digests(record) == honest, "a forged digest was taken from the cache"
    stats = record["hash_stats"]
    assert isinstance(stats, dict)
    assert (stats["files_cached"], stats["files_hashed"]) == (0, 7)
    assert why in stats["cache_refused"] and str(cache) in stats["cache_refused"]
    assert stats["cache_error"] is None, "not a failure: the files were read"


def test_the_forged_cache_test_would_see_a_forgery(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    scan_once(store, cache)
    forge(cache)
    assert set(digests(scan_once(store, cache)).values()) == {FORGED}  # the agent's own cache is trusted: the shortcut


def test_a_file_of_another_user_in_the_own_folder_is_replaced_by_an_own_one(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    scan_once(store, cache)
    _cache_file(cache).chmod(0o666)
    scan_once(store, cache)
    assert _cache_file(cache).stat().st_mode & 0o777 == 0o600
    again = scan_once(store, cache)["hash_stats"]
    assert isinstance(again, dict)
    assert again["files_cached"] == 7 and "cache_refused" not in again


def test_a_cache_in_an_unsafe_folder_is_not_written_either(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    lab.write_set(store, "20261125.003")
    cache.mkdir(mode=0o777)
    cache.chmod(0o777)
    record = scan_once(store, cache)
    assert list(cache.iterdir()) == []
    assert "writable by group or others" in record["hash_stats"]["cache_refused"]  # type: ignore[index]


def test_the_cache_is_made_private_whatever_the_umask(tmp_path: Path) -> None:
    store, cache = tmp_path / "store", tmp_path / "a" / "cache"
    lab.write_set(store, "20261125.003")
    old = os.umask(0)
    try:
        scan_once(store, cache)
    finally:
        os.umask(old)
    assert cache.stat().st_mode & 0o777 == 0o700
    assert cache.parent.stat().st_mode & 0o777 == 0o700
    assert _cache_file(cache).stat().st_mode & 0o777 == 0o600
    assert "cache_refused" not in scan_once(store, cache)["hash_stats"]  # type: ignore[operator]


# --- a file that changes while it is read gives no digest, and no cache entry ---


def _writer_during_read(monkeypatch: pytest.MonkeyPatch, target: Path, change: Any) -> None:
    """Change ``target`` right after its bytes were read, before the agent looks at it again."""
    real = hashing.sha256_stream

    def stream(handle: Any) -> Any:
        result = real(handle)
        if os.path.samefile(f"/proc/self/fd/{handle.fileno()}", target):
            time.sleep(0.05)  # past the file system's clock tick
            change(target)
        return result

    monkeypatch.setattr(hashing, "sha256_stream", stream)


def _append(target: Path) -> None:
    with target.open("ab") as handle:
        handle.write(b"more")


def _rewrite_keeping_size_and_mtime(target: Path) -> None:
    before = target.stat()
    with target.open("r+b") as handle:
        handle.write(b"\0" * 8)
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.parametrize("change", [_append, _rewrite_keeping_size_and_mtime], ids=["appended", "rewritten, mtime restored"])
def test_a_file_changed_while_read_has_no_digest_and_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    store, cache = tmp_path / "store", tmp_path / "cache"
    target = lab.write_set(store, "20261125.003") / "virscan1.dat"
    _writer_during_read(monkeypatch, target, change)
    record = scan_once(store, cache)
    monkeypatch.undo()
    (entry,) = (f for d in record["dirs"] for f in d["files"] if f["path"] == "virscan1.dat")  # type: ignore[attr-defined]
    assert entry["sha256"] is None and entry["changed"] is True
    others = [f for d in record["dirs"] for f in d["files"] if f["path"] != "virscan1.dat"]  # type: ignore[attr-defined]
    assert all(f["sha256"] and "changed" not in f for f in others)
    again = scan_once(store, cache)
    assert again["hash_stats"]["files_hashed"] == 1  # type: ignore[index]
    assert digests(again)["20261125.003/virscan1.dat"] == hashlib.sha256(target.read_bytes()).hexdigest()
