# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store's lock for the ``apply`` operation: broken only when its owner is provably gone.

The lock is a file in the store holding who took it: process ID, host name,
boot ID (``/proc/sys/kernel/random/boot_id`` where the host has one), time and
a random token. It is written aside and hard-linked into place, so it never
exists half written. An existing lock is broken only when

- it was taken on this host during another boot (its boot ID differs), or
- it was taken on this host, during this boot (or with no boot ID to compare),
  by a process that no longer exists;
- or, when nothing about its owner can be read (not JSON, fields missing), it
  is older than ``stale_seconds``.

A lock taken on another host is never broken: its owner cannot be checked from
here. A live owner's lock is never broken, whatever its age.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
import uuid
from typing import Any


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_gone(record: Any, age: float, stale_seconds: int) -> str | None:
    """Why the lock's owner is provably gone, or None when it may still run."""
    if not isinstance(record, dict) or not isinstance(record.get("host"), str) or not isinstance(record.get("pid"), int):
        return f"nothing about its owner can be read and it is {int(age)} s old" if age > stale_seconds else None
    if record["host"] != socket.gethostname():
        return None
    theirs, ours = record.get("boot_id"), boot_id()
    if isinstance(theirs, str) and ours is not None and theirs != ours:
        return "it was taken before this host last started"
    if not pid_alive(record["pid"]):
        return f"its process {record['pid']} is gone"
    return None


class Lock:
    """One store's lock, taken by :meth:`acquire` and released by :meth:`release` (only if still ours)."""

    def __init__(self, store: str, name: str) -> None:
        self.path = os.path.join(store, name)
        self.name = name
        self.token = uuid.uuid4().hex

    def _aside(self) -> str:
        return f"{self.path}-{host_tag()}-{os.getpid()}-{self.token}.tmp"

    def _create(self) -> bool:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "boot_id": boot_id(), "created": time.time(), "token": self.token}
        aside = self._aside()
        with open(aside, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(aside, self.path)
        except FileExistsError:
            return False
        finally:
            os.unlink(aside)
        return True

    @staticmethod
    def _read(path: str) -> tuple[Any, float]:
        """The lock file's record (None if unreadable) and its age by its modification time."""
        age = time.time() - os.lstat(path).st_mtime
        try:
            with open(path, encoding="utf-8") as handle:
                return json.loads(handle.read(4096)), age
        except (OSError, ValueError):
            return None, age

    def acquire(self, stale_seconds: int) -> tuple[bool, str | None, str]:
        """Take the lock: (taken, why an abandoned lock was broken, message)."""
        if self._create():
            return True, None, "locked"
        try:
            record, age = self._read(self.path)
        except FileNotFoundError:
            record, age = None, 0.0
            why: str | None = "it vanished"
        else:
            why = owner_gone(record, age, stale_seconds)
        if why is None:
            return False, None, f"the store is locked by another run ({_describe(record)}): {self.path}"
        if why != "it vanished" and not self._break(record):
            return False, None, f"the store's lock changed hands while it was being broken: {self.path}"
        if not self._create():
            return False, None, f"another run took the store's lock first: {self.path}"
        return True, why, f"locked; an abandoned lock was broken: {why}"

    def _break(self, judged: Any) -> bool:
        """Move the judged lock aside; if what moved is not the lock that was judged, put it back."""
        aside = f"{self.path}.stale-{self.token}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True
        moved, _age = self._read(aside)
        if moved != judged:
            with contextlib.suppress(FileExistsError):
                os.link(aside, self.path)
            os.unlink(aside)
            return False
        os.unlink(aside)
        return True

    def release(self) -> bool:
        """Remove the lock if it is still ours; whether it was."""
        try:
            record, _age = self._read(self.path)
        except FileNotFoundError:
            return False
        if not isinstance(record, dict) or record.get("token") != self.token:
            return False
        os.unlink(self.path)
        return True


def _describe(record: Any) -> str:
    if not isinstance(record, dict):
        return "owner unreadable"
    return f"process {record.get('pid')} on {str(record.get('host'))[:255]}"


def abandoned_aside(path: str, lock_name: str) -> bool:
    """Whether a lock file written aside (``<lock>-<host>-<pid>-<token>.tmp``) belongs to a run that is gone."""
    parts = os.path.basename(path)[len(lock_name) + 1 : -len(".tmp")].split("-")
    if len(parts) == 3 and parts[0] == host_tag() and parts[1].isdigit():
        return not pid_alive(int(parts[1]))
    try:
        return time.time() - os.lstat(path).st_mtime > 60
    except FileNotFoundError:
        return False
