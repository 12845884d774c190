# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store's lock for the ``apply`` operation: broken only when its owner is provably gone.

The lock is a file in the store holding who took it: process ID, host name,
boot ID (``/proc/sys/kernel/random/boot_id`` where the host has one), time and
a random token. It is written aside and hard-linked into place, so it never
exists half written. An existing lock is broken only when

- it was taken on this host during another boot (its boot ID differs; without
  boot IDs to compare, as on Windows, it was created before the host last started), or
- it was taken on this host, during this boot (or with no boot ID to compare),
  by a process that no longer exists (or a process ID no process can have), or whose process ID now belongs to
  another process (the lock names its owner's start, ``started``: the ID was reused);
- or, when nothing about its owner can be read (not JSON, fields missing), it
  is older than ``stale_seconds``.

A lock taken on another host is never broken: its owner cannot be checked from
here. A live owner's lock is never broken, whatever its age. Breakers take
turns through ``<lock>.break``, so two runs never both break one lock.

A lock or breaker file that is not a regular file (a FIFO, a device, a socket)
is never opened as one, which would block: taking the lock fails at once,
naming it (:class:`regular_files.NotRegularFile`).
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

from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import NotRegularFile, open_regular


def boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def boot_time() -> float | None:
    """When this host last started, in seconds since the epoch (Linux's /proc/stat ``btime``); None where it does not say."""
    try:
        with open("/proc/stat", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


#: the largest process ID any host gives (Windows and Linux: a 32-bit signed number)
MAX_PID = (1 << 31) - 1


def pid_alive(pid: int) -> bool:
    if pid <= 0 or pid > MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_token(pid: int) -> str | None:
    """Which start of process ``pid`` this is: its start time in clock ticks since the boot (Linux's /proc).

    No clock change moves it, so a record that names the pid and its token tells its writer from a later
    process given the same ID. None where the host does not say.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return "ticks:" + str(int(handle.read().rsplit(")", 1)[1].split()[19]))  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None


def pid_reused(pid: int, started: Any) -> bool:
    """Whether the live process ``pid`` is another start than the one a record names (``started``)."""
    if not isinstance(started, str):
        return False
    now = start_token(pid)
    return now is not None and now != started


def owner_gone(record: Any, age: float, stale_seconds: int) -> str | None:
    """Why the lock's owner is provably gone, or None when it may still run."""
    pid = record.get("pid") if isinstance(record, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("host"), str) or not isinstance(pid, int) or isinstance(pid, bool):
        return f"nothing about its owner can be read and it is {int(age)} s old" if age > stale_seconds else None
    if record["host"] != socket.gethostname():
        return None
    theirs, ours = record.get("boot_id"), boot_id()
    if isinstance(theirs, str) and ours is not None and theirs != ours:
        return "it was taken before this host last started"
    # without boot IDs to compare (Windows has none), a lock created before the host last started is a dead run's,
    # though its process ID may belong to another process now
    created, booted = record.get("created"), boot_time()
    compared = isinstance(theirs, str) and ours is not None
    if not compared and booted is not None and isinstance(created, (int, float)) and not isinstance(created, bool) and created < booted:
        return "it was taken before this host last started"
    if not pid_alive(record["pid"]):
        return f"its process {record['pid']} is gone"
    if pid_reused(record["pid"], record.get("started")):
        return f"its process {record['pid']} is gone (the ID now belongs to another process)"
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
        record = {
            "pid": os.getpid(),
            "started": start_token(os.getpid()),
            "host": socket.gethostname(),
            "boot_id": boot_id(),
            "created": time.time(),
            "token": self.token,
        }
        aside = self._aside()
        fd = open_regular(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
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
    def _read(path: str) -> tuple[Any, float, int]:
        """A lock file's record (None if unreadable), its age by its modification time, and its inode.

        NotRegularFile when it is a FIFO, device, socket or folder: never opened, never judged abandoned.
        """
        st = os.lstat(path)
        try:
            fd = open_regular(path, os.O_RDONLY)
        except NotRegularFile:
            raise
        except FileNotFoundError:
            raise
        except OSError:
            return None, time.time() - st.st_mtime, st.st_ino
        try:
            with os.fdopen(fd, encoding="utf-8") as handle:
                return json.loads(handle.read(4096)), time.time() - st.st_mtime, st.st_ino
        except (OSError, ValueError):
            return None, time.time() - st.st_mtime, st.st_ino

    def acquire(self, stale_seconds: int) -> tuple[bool, str | None, str]:
        """Take the lock: (taken, why an abandoned lock was broken, message)."""
        if self._create():
            return True, None, "locked"
        try:
            record, age, inode = self._read(self.path)
        except FileNotFoundError:
            why: str | None = "it vanished"
        else:
            why = owner_gone(record, age, stale_seconds)
            if why is None:
                return False, None, f"the store is locked by another run ({_describe(record)}): {self.path}"
            refused = self._break((record, inode))
            if refused is not None:
                return False, None, f"{refused}: {self.path}"
        if not self._create():
            return False, None, f"another run took the store's lock first: {self.path}"
        return True, why, f"locked; an abandoned lock was broken: {why}"

    def _break(self, judged: tuple[Any, int]) -> str | None:
        """Remove the judged lock, one breaker at a time; why not, or None once it is gone.

        Only breakers remove a lock that is not theirs, and they take turns through
        ``<lock>.break`` (created exclusively), so the lock removed is the one judged:
        its owner is gone and cannot release it, and no other breaker can replace it.
        """
        mutex = f"{self.path}.break"
        for _attempt in range(2):
            try:
                fd = os.open(mutex, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                try:
                    record, age, _inode = self._read(mutex)
                except FileNotFoundError:
                    continue
                if owner_gone(record, age, 60) is None:
                    return "another run is breaking the store's abandoned lock"
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(mutex)  # a breaker that died while breaking
                continue
            try:
                try:
                    os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "boot_id": boot_id()}).encode())
                finally:
                    os.close(fd)
                try:
                    current, _age, inode = self._read(self.path)
                except FileNotFoundError:
                    return None
                if (current, inode) != judged:
                    return "the store's lock changed hands while it was being broken"
                os.unlink(self.path)
                return None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(mutex)
        return "another run is breaking the store's abandoned lock"

    def release(self) -> bool:
        """Remove the lock if it is still ours; whether it was."""
        try:
            record, _age, _inode = self._read(self.path)
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


def abandoned_break(path: str) -> bool:
    """Whether ``<lock>.break`` belongs to a breaker that is gone (never a special file: that is not ours to judge)."""
    try:
        record, age, _inode = Lock._read(path)
    except (FileNotFoundError, NotRegularFile):
        return False
    return owner_gone(record, age, 60) is not None
