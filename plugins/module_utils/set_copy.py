# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copying a set's files durably and checking a set folder against its manifest (the POSIX agent's ``apply``)."""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import BUFFER, HashCache
from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import open_regular


def fsync_dir(path: str) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_file(source: str, target: str, hasher: ThreadPoolExecutor) -> tuple[int, str]:
    """Copy with one pass over the bytes, hashing while copying; the copy is flushed to disk. Returns (size, SHA-256).

    Each chunk is hashed on ``hasher``'s thread while the next write and read go on
    (hashlib and file I/O release the GIL), so hashing costs little wall time.
    """
    digest = hashlib.sha256()
    size = 0
    pending: Future[None] | None = None
    reader_fd = open_regular(source, os.O_RDONLY)  # a FIFO or device swapped in for a set file is refused, never read
    with os.fdopen(reader_fd, "rb", buffering=0) as reader, open(target, "xb", buffering=0) as writer:
        while True:
            chunk = reader.read(BUFFER)
            if not chunk:
                break
            if pending is not None:
                pending.result()
            pending = hasher.submit(digest.update, chunk)
            view = memoryview(chunk)
            written = 0
            while written < len(chunk):
                written += writer.write(view[written:])
            size += len(chunk)
        if pending is not None:
            pending.result()
        os.fsync(writer.fileno())
    st = os.stat(source)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    return size, digest.hexdigest()


def source_files(folder: str) -> set[str]:
    """Every file of a set folder, and every link to a folder in it, as '/'-separated paths relative to it."""
    found = set()
    for root, dirs, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            found.add(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return found


def matches(folder: str, manifest: dict[str, dict[str, Any]], cache_dir: str | None, store: str) -> bool:
    """Whether ``folder`` holds exactly the manifest's files (hashes from the agent's cache when unchanged)."""
    if not os.path.isdir(folder) or os.path.islink(folder) or set(manifest) != source_files(folder):
        return False
    cache = HashCache(cache_dir, store, True)
    for rel, want in manifest.items():
        path = os.path.join(folder, *rel.split("/"))
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != want["size"] or cache.digest(path, st) != want["sha256"]:
            return False
    return True
