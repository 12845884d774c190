"""Reading files on the controller that someone else may have put there: never a blocking read, never a recursion error.

A path named by an option can be a FIFO (a read blocks until someone writes),
a device (``/dev/zero`` never ends) or a link to one. :func:`read_regular`
reads regular files only; :func:`parse_json` turns nesting too deep for the
parser into a ``ValueError`` like any other malformed JSON.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

#: file type test -> what to call a file that is not a regular file
FILE_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(ValueError):
    """The path is a FIFO, a device, a socket or a folder."""


def _kind(mode: int) -> str | None:
    return None if stat.S_ISREG(mode) else next((name for test, name in FILE_KINDS if test(mode)), "not a regular file")


def read_regular(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file; never blocks on a FIFO or reads a device.

    The path is checked before it is opened (a link is followed: its target must be a regular file), opened with
    ``O_NONBLOCK`` and checked again on the open handle, so a FIFO swapped in between is not read either.
    Raises :class:`NotRegularFile` (the message says what the path is) or ``OSError``.
    """
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        info = os.stat(path)
    kind = _kind(info.st_mode)
    if kind:
        raise NotRegularFile(f"is {kind}, not a regular file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        kind = _kind(os.fstat(fd).st_mode)
        if kind:
            raise NotRegularFile(f"is {kind}, not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_json(data: bytes) -> Any:
    """JSON from UTF-8 bytes; ValueError also for nesting too deep to parse (never RecursionError)."""
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None
