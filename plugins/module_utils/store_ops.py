# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Changing a definition store on a POSIX host: the POSIX agent's ``install_set`` and ``set_pointer``.

Every step keeps the store's ``definfo.dat`` naming a complete set:

1. take the store's lock (``.smsmse-lock``, created exclusively; a lock whose
   process is gone, or older than the stale limit, is broken);
2. compare-and-swap: ``definfo.dat`` must still have the digest the controller
   saw, else nothing changes and the reply is ``conflict``;
3. remove leftovers of interrupted runs (``.smsmse-staging-*``, ``.smsmse-trash-*``);
4. copy the set into ``.smsmse-staging-<version>-<token>``, hashing while
   copying, marker last, each file and the folder flushed to disk, and compare
   with the manifest the controller verified;
5. rename the staging folder into place (a folder rename is atomic);
6. write ``definfo.dat`` to a temporary file and replace it atomically, after
   checking once more that it did not change meanwhile;
7. retention: rename sets to ``.smsmse-trash-*`` (atomic), then delete them.

A kill at any moment leaves ``definfo.dat`` naming a complete set (the old or
the new one), plus leftovers the next run removes.
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import socket
import stat
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import BUFFER, HashCache

LOCK = ".smsmse-lock"
STAGING = ".smsmse-staging-"
TRASH = ".smsmse-trash-"
DEFINFO = "definfo.dat"
MARKER = "zdone.dat"


class Refused(Exception):
    """The operation cannot go on; nothing was changed (``result`` says why)."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.message = message


# --- small durable file-system steps ---


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def definfo_digest(store: str) -> str | None:
    try:
        with open(os.path.join(store, DEFINFO), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None


def write_definfo(store: str, content: bytes) -> str:
    """Replace ``definfo.dat`` atomically with ``content``; return its digest."""
    tmp = os.path.join(store, f".smsmse-definfo-{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, os.path.join(store, DEFINFO))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _fsync_dir(store)
    return hashlib.sha256(content).hexdigest()


def _discard(store: str, name: str) -> None:
    """Remove a folder of the store: renamed to trash first, so that no half-deleted set keeps a set's name."""
    trash = os.path.join(store, f"{TRASH}{name}-{uuid.uuid4().hex[:8]}")
    os.rename(os.path.join(store, name), trash)
    _fsync_dir(store)
    shutil.rmtree(trash)


def clean_leftovers(store: str) -> list[str]:
    """Remove what interrupted runs left (staging and trash folders, temporary definfo files)."""
    removed = []
    for entry in sorted(os.listdir(store)):
        path = os.path.join(store, entry)
        if entry.startswith((STAGING, TRASH)) and os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
            removed.append(entry)
        elif (entry.startswith(".smsmse-definfo-") and entry.endswith(".tmp")) or (
            entry.startswith(LOCK + "-") and entry.endswith(".tmp") and _abandoned(path)
        ):
            os.unlink(path)
            removed.append(entry)
    return removed


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _abandoned(aside: str) -> bool:
    """Whether a lock file written aside (``.smsmse-lock-<host>-<pid>-<token>.tmp``) belongs to a run that is gone."""
    parts = os.path.basename(aside)[len(LOCK) + 1 : -len(".tmp")].split("-")
    if len(parts) == 3 and parts[0] == _host_tag() and parts[1].isdigit():
        return not _pid_alive(int(parts[1]))
    try:
        return time.time() - os.stat(aside).st_mtime > 60
    except FileNotFoundError:
        return False


# --- the lock ---


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLock:
    """An exclusive lock file in the store; stale locks (dead process, or too old) are broken."""

    def __init__(self, store: str, stale_seconds: int) -> None:
        self.path = os.path.join(store, LOCK)
        self.stale_seconds = stale_seconds
        self.token = uuid.uuid4().hex
        self.broke: str | None = None

    def _create(self) -> bool:
        """Create the lock with its content in one step: written aside, then hard-linked into place."""
        record = {"pid": os.getpid(), "host": socket.gethostname(), "created": time.time(), "token": self.token}
        aside = f"{self.path}-{_host_tag()}-{os.getpid()}-{self.token}.tmp"
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

    def _stale(self) -> str | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                record = json.load(handle)
            age = time.time() - float(record["created"])
            if record.get("host") == socket.gethostname() and not _pid_alive(int(record["pid"])):
                return f"its process {record['pid']} is gone"
            if age > self.stale_seconds:
                return f"it is {int(age)} s old"
            return None
        except FileNotFoundError:
            return "it vanished"
        except (OSError, ValueError, KeyError, TypeError):
            age = time.time() - os.stat(self.path).st_mtime
            return "it is unreadable" if age > 5 else None

    def __enter__(self) -> StoreLock:
        if self._create():
            return self
        why = self._stale()
        if why is None:
            raise Refused("locked", f"the store is locked by another run ({self.path})")
        try:
            os.rename(self.path, f"{self.path}.stale-{self.token}")
            os.unlink(f"{self.path}.stale-{self.token}")
        except FileNotFoundError:
            pass
        if not self._create():
            raise Refused("locked", f"the store is locked by another run ({self.path})")
        self.broke = why
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                mine = json.load(handle).get("token") == self.token
        except (OSError, ValueError):
            mine = False
        if mine:
            os.unlink(self.path)


# --- copying a set ---


def _copy_file(source: str, target: str, hasher: ThreadPoolExecutor) -> tuple[int, str]:
    """Copy with one pass over the bytes, hashing while copying; the copy is flushed to disk.

    Each chunk is hashed on ``hasher``'s thread while the next write and read go on
    (hashlib and file I/O release the GIL), so hashing costs little wall time.
    """
    digest = hashlib.sha256()
    size = 0
    pending: Future[None] | None = None
    with open(source, "rb", buffering=0) as reader, open(target, "xb", buffering=0) as writer:
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


def _source_files(folder: str) -> set[str]:
    found = set()
    for root, dirs, files in os.walk(folder):
        rel = os.path.relpath(root, folder)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            found.add(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return found


def stage_set(store: str, source: str, version: str, manifest: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """Copy ``source`` into a staging folder of ``store`` and check it against ``manifest``."""
    if set(manifest) != _source_files(source):
        raise Refused("source_changed", f"the source set {source} no longer holds the files that were verified")
    staging = os.path.join(store, f"{STAGING}{version}-{uuid.uuid4().hex[:8]}")
    os.mkdir(staging)
    copied = 0
    ordered = sorted(manifest, key=lambda p: (p.lower() == MARKER, p))
    hasher = ThreadPoolExecutor(max_workers=1)
    try:
        for rel in ordered:
            src = os.path.join(source, *rel.split("/"))
            if os.path.islink(src) or not os.path.isfile(src):
                raise Refused("source_changed", f"{rel} in the source set is no longer a regular file")
            dst = os.path.join(staging, *rel.split("/"))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            size, digest = _copy_file(src, dst, hasher)
            want = manifest[rel]
            if size != want["size"] or digest != want["sha256"]:
                raise Refused("source_changed", f"{rel} in the source set changed after it was verified")
            copied += size
        for root, _dirs, _files in os.walk(staging):
            _fsync_dir(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        hasher.shutdown()
    return staging, copied


def matches(folder: str, manifest: dict[str, dict[str, Any]], cache_dir: str | None, store: str) -> bool:
    """Whether ``folder`` holds exactly the manifest's files (hashes from the agent's cache when unchanged)."""
    if not os.path.isdir(folder) or os.path.islink(folder) or set(manifest) != _source_files(folder):
        return False
    cache = HashCache(cache_dir, store, True)
    for rel, want in manifest.items():
        path = os.path.join(folder, *rel.split("/"))
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != want["size"] or cache.digest(path, st) != want["sha256"]:
            return False
    return True


# --- the operations ---


def _event(request: dict[str, Any], outcome: dict[str, Any]) -> None:
    """Append the change's events to the host's events file (the POSIX stand-in for the Application log)."""
    events_file = request.get("events_file")
    if not request.get("events") or not events_file:
        return
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = "".join(
        json.dumps({"id": e["id"], "time": now, "message": e["message"], "source": "mailsec.smsmse", "type": e["type"]}) + "\n"
        for e in request["events"]
    )
    try:
        with open(events_file, "a", encoding="utf-8") as handle:
            handle.write(lines)
        outcome["event_written"] = True
    except OSError as exc:
        outcome["warnings"].append(f"event not written to {events_file}: {exc}")


def _check_expected(store: str, expect: dict[str, Any]) -> None:
    current = definfo_digest(store)
    if current != expect["definfo_sha256"]:
        raise Refused("conflict", "definfo.dat changed since it was read (another run, or the product's own copy job)")


def _retire(store: str, versions: list[str], keep: set[str]) -> list[str]:
    removed = []
    for version in versions:
        if version in keep or not os.path.isdir(os.path.join(store, version)):
            continue
        _discard(store, version)
        removed.append(version)
    return removed


def _outcome() -> dict[str, Any]:
    return {
        "result": "done",
        "message": "",
        "definfo_sha256": None,
        "installed": False,
        "removed": [],
        "cleaned": [],
        "quarantined": [],
        "bytes_copied": 0,
        "lock_broken": None,
        "event_written": False,
        "restarted": False,
        "warnings": [],
    }


#: runs an argument list and returns (exit code, stdout, stderr): AnsibleModule.run_command in the agent
CommandRunner = Callable[[list[str]], tuple[int, str, str]]


def _restart(request: dict[str, Any], outcome: dict[str, Any], run_command: CommandRunner | None) -> None:
    """Run the configured restart command (POSIX hosts have no SMSMSE service of their own)."""
    restart = request.get("restart")
    if not restart:
        return
    if not restart.get("command") or run_command is None:
        outcome["warnings"].append("no restart command is configured for this POSIX host; nothing was restarted")
        return
    try:
        code, _out, err = run_command(list(restart["command"]))
    except OSError as exc:
        outcome["warnings"].append(f"restart failed: {exc}")
        return
    if code == 0:
        outcome["restarted"] = True
    else:
        outcome["warnings"].append(f"restart command exited {code}: {err.strip()[:500]}")


def install_set(request: dict[str, Any], run_command: CommandRunner | None = None) -> dict[str, Any]:
    """Install a verified set into a store and point the store at it."""
    store = request["store"]
    version = request["version"]
    manifest = request["manifest"]
    content = base64.b64decode(request["definfo_b64"])
    outcome = _outcome()
    target = os.path.join(store, version)
    try:
        with StoreLock(store, request["lock_stale_seconds"]) as lock:
            outcome["lock_broken"] = lock.broke
            _check_expected(store, request["expect"])
            outcome["cleaned"] = clean_leftovers(store)
            if not matches(target, manifest, request.get("cache_dir"), store):
                staging, outcome["bytes_copied"] = stage_set(store, request["source"], version, manifest)
                _check_expected(store, request["expect"])
                if os.path.lexists(target):
                    fallback = request.get("fallback_definfo_b64")
                    if request["expect"]["active"] == version:
                        if not fallback:
                            shutil.rmtree(staging)
                            raise Refused(
                                "no_fallback", f"{version} is the active set and no other good set can stand in while it is replaced"
                            )
                        write_definfo(store, base64.b64decode(fallback))
                    _discard(store, version)
                os.rename(staging, target)
                _fsync_dir(store)
                outcome["installed"] = True
            outcome["definfo_sha256"] = write_definfo(store, content)
            outcome["removed"] = _retire(store, request.get("remove", []), {version, *request.get("protect", [])})
            _event(request, outcome)
            _restart(request, outcome, run_command)
            outcome["message"] = f"{version} installed and active" if outcome["installed"] else f"{version} active"
    except Refused as refused:
        outcome.update(result=refused.result, message=refused.message)
    except OSError as exc:
        outcome.update(result="failed", message=_os_message(exc, store))
    return outcome


def _os_message(exc: OSError, store: str) -> str:
    code = errno.errorcode.get(exc.errno or 0, "error")
    return f"{code}: {exc.strerror or exc} ({exc.filename or store})"


def set_pointer(request: dict[str, Any], run_command: CommandRunner | None = None) -> dict[str, Any]:
    """Point a store at a set already in it, after checking the set still matches its manifest."""
    store = request["store"]
    version = request["version"]
    content = base64.b64decode(request["definfo_b64"])
    outcome = _outcome()
    try:
        with StoreLock(store, request["lock_stale_seconds"]) as lock:
            outcome["lock_broken"] = lock.broke
            _check_expected(store, request["expect"])
            outcome["cleaned"] = clean_leftovers(store)
            if not matches(os.path.join(store, version), request["manifest"], request.get("cache_dir"), store):
                raise Refused("conflict", f"{version} no longer holds the files that were verified")
            outcome["definfo_sha256"] = write_definfo(store, content)
            for name in request.get("quarantine", []):
                if name != version and os.path.isdir(os.path.join(store, name)):
                    outcome["quarantined"].append(_quarantine(store, name, request["quarantine_dir"]))
            _event(request, outcome)
            _restart(request, outcome, run_command)
            outcome["message"] = f"{version} active"
    except Refused as refused:
        outcome.update(result=refused.result, message=refused.message)
    except OSError as exc:
        outcome.update(result="failed", message=_os_message(exc, store))
    return outcome


def _quarantine(store: str, version: str, quarantine_dir: str) -> str:
    """Move a set out of the store, never deleting it; return where it went."""
    os.makedirs(quarantine_dir, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    destination = os.path.join(quarantine_dir, f"{os.path.basename(store.rstrip('/'))}-{version}-{stamp}-{uuid.uuid4().hex[:6]}")
    os.rename(os.path.join(store, version), destination)
    _fsync_dir(store)
    return destination
