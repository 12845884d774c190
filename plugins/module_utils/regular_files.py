# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opening files the agent reads or writes so that a FIFO, a device or a socket never blocks it (the POSIX agent).

A plain ``open()`` of a FIFO waits for a writer (or a reader) forever, and a
device answers with whatever it produces. Every file the agent opens in a
store, a lock, its events file or its cache goes through :func:`open_regular`:
opened without blocking (``O_NONBLOCK``, which a regular file ignores), then
checked on the handle itself; anything but a regular file is closed at once and
refused with :class:`NotRegularFile`, an ``OSError`` naming the path and the fix.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Any

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a folder: it is never read or written as a file."""


def kind_of(mode: int) -> str:
    """What a mode is, in words: for messages."""
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a link"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def refused(path: str, what: str) -> NotRegularFile:
    return NotRegularFile(errno.EINVAL, f"{what}, not a regular file: it is never opened; remove it", path)


def open_regular(path: str, flags: int, mode: int = 0o644, *, follow: bool = False, dir_fd: int | None = None) -> int:
    """A descriptor of the regular file ``path`` opened with ``flags``; :class:`NotRegularFile` for anything else.

    Never blocks: a FIFO or socket is refused at once (``ENXIO`` for a write open of a FIFO
    without a reader, or socket, becomes the same refusal). ``follow``: whether a link at
    ``path`` may be followed (a configured file such as the events file); never for store files.
    """
    extra: dict[str, Any] = {} if dir_fd is None else {"dir_fd": dir_fd}
    try:
        fd = os.open(path, flags | _NONBLOCK | (0 if follow else _NOFOLLOW), mode, **extra)
    except OSError as exc:
        if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP):  # a FIFO with no reader, or a socket
            raise refused(path, "a FIFO or socket") from None
        raise
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refused(path, kind_of(st.st_mode))
    return fd


def read_regular(path: str, limit: int, *, follow: bool = False) -> bytes | None:
    """Up to ``limit`` bytes of the regular file ``path`` (``limit + 1`` read, so a caller sees when it is longer); None when absent."""
    try:
        fd = open_regular(path, os.O_RDONLY, follow=follow)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)
