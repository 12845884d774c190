"""The POSIX agent's hashing and its cache: a second run reads nothing, any change is read again."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.module_utils import hashing, scan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import facts, lab


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
