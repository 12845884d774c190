# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SHA-256 of definition files on a POSIX host, with a cache kept outside the Symantec folders.

A cache entry is trusted only while the file's path, size, modification time
(nanoseconds) and file ID (device and inode) are all unchanged. One cache file
per store, named after the store's path, so hosts and stores never contend.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

BUFFER = 1 << 20
CACHE_VERSION = 1


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mailsec-smsmse", "hashes")


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as handle:
        buffer = bytearray(BUFFER)
        view = memoryview(buffer)
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
    return digest.hexdigest()


class HashCache:
    """The cache of one store: path -> (size, mtime_ns, file id, sha256)."""

    def __init__(self, cache_dir: str | None, store_path: str, use_cached: bool) -> None:
        name = hashlib.sha256(os.path.abspath(store_path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        self.path = os.path.join(cache_dir or default_cache_dir(), name + ".json")
        self.use_cached = use_cached
        self.entries: dict[str, list[Any]] = {}
        self.seen: dict[str, list[Any]] = {}
        self.error: str | None = None
        self.stats = {"files_hashed": 0, "bytes_hashed": 0, "files_cached": 0, "bytes_cached": 0}
        try:
            with open(self.path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            if isinstance(loaded, dict) and loaded.get("version") == CACHE_VERSION and isinstance(loaded.get("entries"), dict):
                self.entries = loaded["entries"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            self.error = f"cache {self.path} unreadable, rebuilt: {exc}"

    def digest(self, path: str, st: os.stat_result) -> str | None:
        """The file's SHA-256 from the cache when nothing about it changed, else by reading it; None if unreadable."""
        key = [st.st_size, st.st_mtime_ns, f"{st.st_dev}:{st.st_ino}"]
        cached = self.entries.get(path)
        if self.use_cached and isinstance(cached, list) and len(cached) == 4 and cached[:3] == key:
            self.stats["files_cached"] += 1
            self.stats["bytes_cached"] += st.st_size
            self.seen[path] = cached
            return str(cached[3])
        try:
            value = sha256_file(path)
        except OSError:
            return None
        self.stats["files_hashed"] += 1
        self.stats["bytes_hashed"] += st.st_size
        self.seen[path] = [*key, value]
        return value

    def save(self) -> None:
        """Keep what this run saw (entries of files gone are dropped); never fails the operation."""
        try:
            folder = os.path.dirname(self.path)
            os.makedirs(folder, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".hashes-", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": CACHE_VERSION, "entries": self.seen}, handle)
            os.replace(tmp, self.path)
        except OSError as exc:
            self.error = f"cache {self.path} not saved: {exc}"
