# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files only the agent's user can write, for state the agent trusts (the hash cache), on a POSIX host.

A file that another user could have written is no witness of anything: a hash
cache writable by someone else lets them forge "verified" digests. So a folder
or file is used only when it is a real folder or regular file (never a link),
owned by the agent's effective user, and not writable by group or others. The
folder is opened once, without following a link, and the file is read and
written relative to that open folder, so nobody can swap either between the
check and the use. What this module creates is 0700 (folders) or 0600 (files),
whatever the umask.

Each function returns why a path was refused (a sentence naming it and the fix)
rather than raising: refusing the cache is a warning, not a failure.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

_FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
#: the largest file read (a cache of a few thousand entries is a few MB)
MAX_BYTES = 256 << 20


def unsafe(st: os.stat_result, path: str, what: str) -> str | None:
    """Why ``st`` (of ``path``, a ``what``: folder or file) may not be trusted, or None."""
    uid = os.geteuid()
    fix = f"remove it, or run `chown {uid} {path}; chmod go-w {path}` if its content is yours"
    if st.st_uid != uid:
        return f"the {what} {path} is owned by uid {st.st_uid}, not by the agent's user (uid {uid}): {fix}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"the {what} {path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o}): {fix}"
    return None


def _refused_open(exc: OSError, path: str, what: str) -> str | None:
    if exc.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
        return f"the {what} {path} is a link or not a {what}; it is never followed: remove it"
    raise exc


def open_folder(path: str, create: bool) -> tuple[int | None, str | None]:
    """A descriptor of the private folder ``path`` (made 0700 with any missing parent when ``create``), or why not.

    ``(None, None)``: the folder does not exist and was not to be made. Raises ``OSError``
    for other failures (permissions, I/O).
    """
    if create:
        _make(path)
    try:
        fd = os.open(path, _FOLDER_FLAGS)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, _refused_open(exc, path, "folder")
    why = unsafe(os.fstat(fd), path, "folder")
    if why is not None:
        os.close(fd)
        return None, why
    return fd, None


def _make(path: str) -> None:
    """Make ``path`` and each missing parent 0700, whatever the umask; leave what exists as it is."""
    missing = []
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)


def read(folder_fd: int, name: str, where: str) -> tuple[bytes | None, str | None]:
    """The bytes of the private file ``name`` in the open folder (``where`` names it), ``(None, None)`` when absent, or why not."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder_fd)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, _refused_open(exc, where, "file")
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"the file {where} is not a regular file: remove it"
        why = unsafe(st, where, "file")
        if why is not None:
            return None, why
        return handle.read(MAX_BYTES), None


def replace(folder_fd: int, name: str, data: bytes, temporary: str) -> None:
    """Write ``data`` as the private file ``name`` (0600) in the open folder, atomically, through ``temporary``."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary, dir_fd=folder_fd)
    fd = os.open(temporary, _WRITE_FLAGS, 0o600, dir_fd=folder_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        os.replace(temporary, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=folder_fd)
        raise
