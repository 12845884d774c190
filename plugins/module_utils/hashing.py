# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SHA-256 of definition files on a POSIX host, with a cache kept outside the Symantec folders.

The cache is a shortcut, never a witness. Format version 2: an entry is
``path -> [size, mtime_ns, change_stamp, file_id, sha256, verified_at]``, where
``change_stamp`` is ``st_ctime_ns`` (a writer can set the modification time back
with ``utime``, but not the change time, which that very call moves) and
``file_id`` is ``"<st_dev>:<st_ino>"``. An entry is used only while size,
mtime_ns, change_stamp and file_id all equal the file's now, and only until it
is ``max_age_seconds * (0.5 + 0.5 * f)`` old, ``f`` being a fraction derived
from the path (:func:`spread`): every hash is read again within the maximum age,
and the re-reads spread across runs rather than falling due at once.
``max_age_seconds`` 0 never uses the cache. One cache file per store, named
after the store's path, so hosts and stores never contend.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

BUFFER = 1 << 20
CACHE_VERSION = 2
#: the maximum age of an entry when the request gives none: 7 days
DEFAULT_MAX_AGE_SECONDS = 7 * 24 * 3600


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "mailsec-smsmse", "hashes")


def spread(path: str) -> float:
    """A fraction in [0, 1) fixed by ``path``: where in the second half of the maximum age its entry expires."""
    return int(hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16) / 2**32


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
    """The cache of one store: path -> [size, mtime_ns, change_stamp, file_id, sha256, verified_at]."""

    def __init__(
        self,
        cache_dir: str | None,
        store_path: str,
        use_cached: bool,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        name = hashlib.sha256(os.path.abspath(store_path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
        self.path = os.path.join(cache_dir or default_cache_dir(), name + ".json")
        self.use_cached = use_cached and max_age_seconds > 0
        self.max_age_seconds = max_age_seconds
        self.clock = clock
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

    def _fresh(self, path: str, cached: Any, key: list[Any], now: float) -> bool:
        if not (isinstance(cached, list) and len(cached) == 6 and cached[:4] == key and isinstance(cached[4], str)):
            return False
        verified_at = cached[5]
        if not isinstance(verified_at, int) or isinstance(verified_at, bool) or verified_at > now:
            return False
        return now - verified_at < self.max_age_seconds * (0.5 + 0.5 * spread(path))

    def digest(self, path: str, st: os.stat_result) -> str | None:
        """The file's SHA-256 from the cache when nothing about it changed and the entry is fresh, else by reading it."""
        key = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, f"{st.st_dev}:{st.st_ino}"]
        now = self.clock()
        cached = self.entries.get(path)
        if self.use_cached and cached is not None and self._fresh(path, cached, key, now):
            self.stats["files_cached"] += 1
            self.stats["bytes_cached"] += st.st_size
            self.seen[path] = cached
            return str(cached[4])
        try:
            value = sha256_file(path)
        except OSError:
            return None
        self.stats["files_hashed"] += 1
        self.stats["bytes_hashed"] += st.st_size
        self.seen[path] = [*key, value, int(now)]
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
