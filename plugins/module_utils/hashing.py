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

A cache another user could write would let them forge digests, so the cache
folder and file are used only when the agent's user owns them and nobody else
can write them (:mod:`private_files`: made 0700 and 0600); otherwise the files are
all read and the reply says why (``cache_refused``). A file whose size, times or
identity moved while it was read gets no digest (the reply marks it ``changed``)
and no entry: its bytes are not the ones listed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import private_files
from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import open_regular

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


def sha256_stream(handle: Any, buffer: bytearray | None = None) -> tuple[str, int]:
    """The SHA-256 of what is left to read from the unbuffered binary ``handle``, and how many bytes that was; read
    through ``buffer`` when given (a caller reading many files keeps one), else through a new one."""
    digest = hashlib.sha256()
    buffer = bytearray(BUFFER) if buffer is None else buffer
    view = memoryview(buffer)
    total = 0
    while True:
        count = handle.readinto(buffer)
        if not count:
            break
        digest.update(view[:count])
        total += count
    return digest.hexdigest(), total


#: how much older than the start of a read a file's last change must be before the read's key may stand for its bytes:
#: older kernels stamp times from a clock that ticks every 1 to 10 ms, so a write in the same tick as the last one
#: leaves every time as it was ("racily clean", as git calls it)
RACY_NS = 100_000_000


def sha256_landed(path: str, buffer: bytearray | None = None) -> tuple[str, int, list[Any] | None]:
    """SHA-256 and size of the regular file ``path`` just written by this agent, read back with a sequential read-ahead;
    and its cache key (:func:`_key`: size, mtime_ns, change stamp, file ID) when none of it moved while it was read and
    its last change is older than the read by :data:`RACY_NS`, else None (the key could miss a later write in the same
    clock tick). A link is not followed; a FIFO or device is refused, never read."""
    fd = open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb", buffering=0) as handle:
        started = time.time_ns()
        before = os.fstat(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        digest, size = sha256_stream(handle, buffer)
        after = os.fstat(fd)
    key = _key(after)
    settled = max(after.st_ctime_ns, after.st_mtime_ns) < started - RACY_NS
    return digest, size, key if _key(before) == key and size == after.st_size and settled else None


def sha256_file(path: str) -> str:
    """The SHA-256 of the regular file ``path`` (a link is not followed; a FIFO or device is refused, never read)."""
    with os.fdopen(open_regular(path, os.O_RDONLY), "rb", buffering=0) as handle:
        return sha256_stream(handle)[0]


class HashCache:
    """The cache of one store: path -> [size, mtime_ns, change_stamp, file_id, sha256, verified_at].

    The cache is read and written only where no other user could have written it
    (:mod:`private_files`); otherwise ``refused`` says why, every file is read, and
    the reply carries that as a warning. A file whose size, times or identity moved
    while it was read gets no digest and no entry: it is in ``changed``.
    """

    def __init__(
        self,
        cache_dir: str | None,
        store_path: str,
        use_cached: bool,
        max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
        *,
        landed: Mapping[str, tuple[list[Any], str]] | None = None,
    ) -> None:
        self.name = hashlib.sha256(os.path.abspath(store_path).encode("utf-8", "surrogateescape")).hexdigest()[:32] + ".json"
        self.folder = cache_dir or default_cache_dir()
        self.path = os.path.join(self.folder, self.name)
        self.use_cached = use_cached and max_age_seconds > 0
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        #: files this agent call wrote and read back (file ID -> key, SHA-256): in memory only, never from a file
        self.landed = landed or {}
        self.entries: dict[str, list[Any]] = {}
        self.seen: dict[str, list[Any]] = {}
        self.changed: set[str] = set()
        self.error: str | None = None
        self.refused: str | None = None
        self.folder_refused = False
        self.stats = {"files_hashed": 0, "bytes_hashed": 0, "files_cached": 0, "bytes_cached": 0}
        try:
            self._load()
        except (OSError, ValueError) as exc:
            self.error = f"cache {self.path} unreadable, rebuilt: {exc}"

    def _load(self) -> None:
        fd, self.refused = private_files.open_folder(self.folder, create=False)
        if fd is None:
            self.folder_refused = self.refused is not None
            return
        try:
            data, self.refused = private_files.read(fd, self.name, self.path)
        finally:
            os.close(fd)
        if data is None:
            return
        loaded = json.loads(data.decode("utf-8"))
        if isinstance(loaded, dict) and loaded.get("version") == CACHE_VERSION and isinstance(loaded.get("entries"), dict):
            self.entries = loaded["entries"]

    def _fresh(self, path: str, cached: Any, key: list[Any], now: float) -> bool:
        if not (isinstance(cached, list) and len(cached) == 6 and cached[:4] == key and isinstance(cached[4], str)):
            return False
        verified_at = cached[5]
        if not isinstance(verified_at, int) or isinstance(verified_at, bool) or verified_at > now:
            return False
        return now - verified_at < self.max_age_seconds * (0.5 + 0.5 * spread(path))

    def digest(self, path: str, st: os.stat_result) -> str | None:
        """The file's SHA-256 from the cache when nothing about it changed and the entry is fresh, else by reading it.

        None when the file cannot be read, or when it changed while it was read (then ``path`` is in ``changed``).
        """
        key = _key(st)
        now = self.clock()
        read_back = self.landed.get(key[3])
        if read_back is not None and read_back[0] == key:  # read back by this very call; nothing of it moved since
            self.stats["files_cached"] += 1
            self.stats["bytes_cached"] += st.st_size
            return read_back[1]
        cached = self.entries.get(path)
        if self.use_cached and cached is not None and self._fresh(path, cached, key, now):
            self.stats["files_cached"] += 1
            self.stats["bytes_cached"] += st.st_size
            self.seen[path] = cached
            return str(cached[4])
        try:
            fd = open_regular(path, os.O_RDONLY)  # a FIFO or device swapped in after the listing is never read
        except OSError:
            return None
        with os.fdopen(fd, "rb", buffering=0) as handle:
            try:
                before = os.fstat(fd)
                value, count = sha256_stream(handle)
                after = os.fstat(fd)
            except OSError:
                return None
        self.stats["files_hashed"] += 1
        self.stats["bytes_hashed"] += count
        if not _key(before) == _key(after) == key or count != st.st_size:
            self.changed.add(path)  # the bytes read are not the file listed: no digest, no entry
            return None
        self.seen[path] = [*key, value, int(now)]
        return value

    def save(self) -> None:
        """Keep what this run saw (entries of files gone are dropped) in a private file; never fails the operation."""
        if self.folder_refused:
            return  # a folder someone else could write is not written either (a refused file is replaced by a private one)
        try:
            fd, refused = private_files.open_folder(self.folder, create=True)
            if fd is None:
                self.refused, self.folder_refused = refused, True
                return
            try:
                data = json.dumps({"version": CACHE_VERSION, "entries": self.seen}).encode("utf-8")
                private_files.replace(fd, self.name, data, f".hashes-{os.getpid()}.tmp")
            finally:
                os.close(fd)
        except OSError as exc:
            self.error = f"cache {self.path} not saved: {exc}"


def _key(st: os.stat_result) -> list[Any]:
    """What must not change for a cache entry to stand: size, mtime_ns, change stamp (ctime_ns) and file ID."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, f"{st.st_dev}:{st.st_ino}"]
