"""The POSIX agent's hashing and its cache: a second run reads nothing, any change is read again."""

from __future__ import annotations

import hashlib
import os
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
