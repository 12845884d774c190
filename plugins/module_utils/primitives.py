# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The primitive steps of the ``apply`` operation on a POSIX host (docs/changes.md).

Each primitive takes the run's :class:`Context`, the store folder and the
step's arguments, and returns the step's ``data``. A primitive that refuses
raises :class:`Refused` (with a result such as ``conflict`` and maybe a code);
one that fails raises ``OSError``, which the step runner reports with the
system's error name. None of them decides anything: the controller sequences
them and reads the outcome.

Links are never followed: a link named like a set, a staging or trash folder
or a temporary ``definfo.dat`` is treated as the link itself.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import errno
import functools
import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import scan, set_copy
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import BUFFER, HashCache, sha256_landed
from ansible_collections.mailsec.smsmse.plugins.module_utils.store_lock import Lock, abandoned_aside, abandoned_break


class Refused(Exception):
    """The step ends with ``result`` (not ``done``, not ``failed``); nothing was changed by it."""

    def __init__(self, result: str, message: str, code: str | None = None, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.message = message
        self.code = code
        self.data = data or {}


class Context:
    """What the steps of one request share: the wire names, the hash cache, the locks taken."""

    def __init__(self, wire: dict[str, Any], cache_dir: str | None) -> None:
        self.wire = wire
        self.cache_dir = cache_dir
        self.locks: dict[str, Lock] = {}
        self.warnings: list[str] = []
        #: services (or restart commands) a stop step of this request ran: what only_if_stopped_here starts again
        self.stopped: set[str] = set()
        #: files a stage or fetch of this request read back, matching the manifest: file ID -> (cache key, SHA-256); the
        #: read of the stores after the last step takes a digest from here only while the file's key is unchanged
        self.landed: dict[str, tuple[list[Any], str]] = {}

    def definfo(self, store: str) -> str:
        return os.path.join(store, self.wire["definfo"])

    def store_file(self, store: str, name: Any) -> str:
        """One of the store's INI files a step may replace: the pointer (``definfo``, the default) or ``usage``."""
        if name is None:
            return self.definfo(store)
        if name not in (self.wire["definfo"], self.wire["usage"]):
            raise ValueError(f"{name!r} is not a file a step may replace (only {self.wire['definfo']} or {self.wire['usage']})")
        return os.path.join(store, name)

    def staging_folder(self, store: str, name: Any, verb: str) -> str:
        """``<store>/<name>`` where ``name`` starts with the wire's staging prefix: a set is staged or fetched into one
        only, a name the product's copy job never takes."""
        prefix = self.wire["staging_prefix"]
        if not isinstance(name, str) or not name.startswith(prefix):
            raise ValueError(f"{name!r} is not a staging folder name ({prefix}...): a set is {verb} into one only")
        return folder(store, name)

    def temp_name(self) -> str:
        return f"{self.wire['definfo_temp_prefix']}{uuid.uuid4().hex}.tmp"


def folder(store: str, name: Any) -> str:
    """``<store>/<name>`` for a single folder name (never a path that leads elsewhere)."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"{name!r} is not a folder name of the store")
    return os.path.join(store, name)


def relative(rel: str) -> list[str]:
    parts = rel.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise ValueError(f"{rel!r} is not a path inside a set")
    return parts


def pointer_state(path: str) -> tuple[str, str | None]:
    """What lstat sees at ``path``: its kind (``absent``, ``file``, ``link``, ``dir``, ``other``) and, for a regular file only, its SHA-256.

    Never follows a link. A hostile definfo.dat may be huge, or a FIFO or device
    that blocks a plain open: it is opened without following and without blocking,
    and must still be a regular file once open. A file larger than
    :data:`scan.MAX_DEFINFO_HASH` has no digest (None), as the probe reports it, so
    that a change expecting it finds it as read and replaces it.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent", None
    kind = next((name for test, name in scan.KINDS if test(st.st_mode)), "other")
    if kind != "file":
        return kind, None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return "absent", None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link swapped in since the lstat
            return "link", None
        raise
    with os.fdopen(fd, "rb", buffering=0) as handle:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "other", None
        if st.st_size > scan.MAX_DEFINFO_HASH:  # as probe reads it: a file this large has no digest, at any moment
            return "file", None
        digest = hashlib.sha256()
        read = 0
        for chunk in iter(lambda: handle.read(BUFFER), b""):
            digest.update(chunk)
            read += len(chunk)
            if read > scan.MAX_DEFINFO_HASH:  # it grew while read
                return "file", None
    return "file", digest.hexdigest()


def expected_state(sha256: str | None, kind: str | None) -> tuple[str, str | None]:
    """The state a step expects: ``kind`` as sent, or (when not sent) a file with that digest, or nothing (null)."""
    return (kind or ("file" if sha256 is not None else "absent")), sha256


def _changed(ctx: Context, now: tuple[str, str | None], while_: str, name: str | None = None) -> Refused:
    what = f"a {now[0]}" if now[0] in ("link", "dir") else {"absent": "absent", "file": "a file", "other": "a special file"}[now[0]]
    file = name or ctx.wire["definfo"]
    return Refused("conflict", f"{file} changed {while_} (it is now {what})", data={"sha256": now[1], "kind": now[0]})


# --- lock, expect, preflight, clean ---


def lock(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    if store in ctx.locks:
        return {"broken": None}
    held = Lock(store, ctx.wire["lock"])
    taken, broken, message = held.acquire(int(args["stale_seconds"]))
    if not taken:
        raise Refused("locked", message)
    ctx.locks[store] = held
    return {"broken": broken}


def unlock(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    held = ctx.locks.pop(store, None)
    if held is not None and not held.release():
        raise Refused("failed", f"the store's lock was no longer this run's when it was released: {held.path}", "LOCK_LOST")
    return {}


def expect(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Compare-and-swap: definfo.dat is still what lstat saw when the controller read it (its kind; a file's digest)."""
    now = pointer_state(ctx.definfo(store))
    if now != expected_state(args["definfo_sha256"], args.get("definfo_kind")):
        raise _changed(ctx, now, "since it was read")
    return {"sha256": now[1], "kind": now[0]}


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path):
        parent = os.path.dirname(path.rstrip("/")) or "/"
        if parent == path:
            break
        path = parent
    return path


def preflight(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Check that later steps can succeed, before anything moves."""
    checked = []
    if args["pointer_writable"]:
        target = ctx.definfo(store)
        probe = os.path.join(store, ctx.temp_name())
        try:
            if pointer_state(target)[0] == "file":  # a link or folder is replaced itself (a folder moved aside first)
                os.close(os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK))  # immutable or append-only: refused, even for root
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            os.unlink(probe)
        except OSError as exc:
            raise Refused("refused", f"{ctx.wire['definfo']} cannot be replaced: {_os_text(exc)}", "POINTER_NOT_WRITABLE") from None
        checked.append("pointer_writable")
    device = os.stat(store).st_dev
    for path in args["same_volume"]:
        if os.stat(_nearest_existing(path)).st_dev != device:
            raise Refused(
                "refused", f"{path} is not on the volume of {store}, so a set cannot be moved there by a rename", "NOT_SAME_VOLUME"
            )
    if args["same_volume"]:
        checked.append("same_volume")
    if args["free_bytes"]:
        vfs = os.statvfs(store)
        free = vfs.f_bavail * vfs.f_frsize
        if free < args["free_bytes"]:
            raise Refused("refused", f"{store} has {free} bytes free; the change needs {args['free_bytes']}", "NO_SPACE")
        checked.append("free_bytes")
    return {"checked": checked}  # not_in_use: POSIX hosts hold no file open against a rename


def _is_leftover(ctx: Context, entry: str, path: str) -> bool:
    wire = ctx.wire
    if entry.startswith((wire["staging_prefix"], wire["trash_prefix"], wire["lock"] + ".stale-")):
        return True
    if entry.startswith(wire["definfo_temp_prefix"]) and entry.endswith(".tmp"):
        return True
    if entry == wire["lock"] + ".break":
        return abandoned_break(path)
    return entry.startswith(wire["lock"] + "-") and entry.endswith(".tmp") and abandoned_aside(path, wire["lock"])


def remove_entry(path: str) -> None:
    """Remove a file, a link (never followed) or a folder tree (links inside are removed, not followed)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _aside_of(ctx: Context, entry: str) -> str | None:
    """The folder an interrupted exchange moved aside (``<exchange_aside_prefix><b>-<token>``): ``b``, or None."""
    lead = ctx.wire["exchange_aside_prefix"]
    if not entry.startswith(lead):
        return None
    name, dash, token = entry[len(lead) :].rpartition("-")
    return name if dash and token and name not in ("", ".", "..") and "/" not in name else None


def _restore_asides(ctx: Context, store: str, errors: list[str]) -> list[str]:
    """Put back every folder an exchange killed between its two renames left aside, when its name is still missing.

    Then the name the pointer may give is a whole folder again (the one it was before
    the exchange started); the aside is never deleted while that name is missing.
    """
    restored = []
    for entry in sorted(os.listdir(store)):
        name = _aside_of(ctx, entry)
        if name is None or os.path.lexists(os.path.join(store, name)):
            continue
        try:
            os.rename(os.path.join(store, entry), os.path.join(store, name))
        except OSError as exc:
            errors.append(f"{entry} could not be renamed back to {name}: {_os_text(exc)}")
            continue
        restored.append(name)
    if restored:
        set_copy.fsync_dir(store)
    return restored


def clean(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Put back what an interrupted exchange left aside, then remove what interrupted runs left; best-effort per entry."""
    removed: list[str] = []
    remaining: list[str] = []
    errors: list[str] = []
    restored = _restore_asides(ctx, store, errors)
    for entry in sorted(os.listdir(store)):
        path = os.path.join(store, entry)
        if not _is_leftover(ctx, entry, path):
            continue
        aside = _aside_of(ctx, entry)
        if aside is not None and not os.path.lexists(os.path.join(store, aside)):
            remaining.append(entry)  # it could not be put back: never deleted while its name is missing
            continue
        try:
            remove_entry(path)
            removed.append(entry)
        except OSError as exc:
            remaining.append(entry)
            errors.append(f"{entry}: {_os_text(exc)}")
    limit = ctx.wire["limits"]["max_list"]
    data: dict[str, Any] = {"removed": removed[:limit], "remaining": remaining[:limit]}
    if restored:
        data["restored"] = restored[:limit]
    if remaining:
        raise Refused("failed", "leftovers could not be removed or put back: " + "; ".join(errors), "LEFTOVERS_REMAIN", data)
    return data


# --- sets: stage, matches ---


def stage(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Copy the set at ``source`` into ``<store>/<name>``, hashing while copying, marker last, flushed."""
    source, manifest, marker = args["source"], args["manifest"], ctx.wire["marker"]
    target = ctx.staging_folder(store, args["name"], "staged")
    for rel in manifest:
        relative(rel)
    if os.path.islink(source) or set(manifest) != set_copy.source_files(source):
        raise Refused("source_changed", f"the source set {source} no longer holds the files that were verified")
    os.mkdir(target)
    copied = 0
    hasher = ThreadPoolExecutor(max_workers=1)
    try:
        for rel in sorted(manifest, key=lambda p: (p.lower() == marker, p)):
            src = os.path.join(source, *relative(rel))
            dst = os.path.join(target, *relative(rel))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            try:
                if not stat.S_ISREG(os.lstat(src).st_mode):
                    raise Refused("source_changed", f"{rel} in the source set is no longer a regular file")
                size, digest = set_copy.copy_file(src, dst, hasher)
            except FileNotFoundError as exc:
                if exc.filename != src:
                    raise
                raise Refused("source_changed", f"{rel} left the source set while it was copied (LiveUpdate purged it?)") from None
            if size != manifest[rel]["size"] or digest != manifest[rel]["sha256"]:
                raise Refused("source_changed", f"{rel} in the source set changed after it was verified")
            copied += size
        for root, _dirs, _files in os.walk(target):
            set_copy.fsync_dir(root)
        set_copy.fsync_dir(store)
        _read_back(target, manifest, ctx.landed)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    finally:
        hasher.shutdown()
    return {"bytes_copied": copied, "files": len(manifest)}


def _read_back(target: str, manifest: dict[str, Any], landed: dict[str, tuple[list[Any], str]]) -> None:
    """What landed, read back from the store: an antivirus filter may clean or cut a file right after it is written."""
    reads = {rel: functools.partial(sha256_landed, os.path.join(target, *relative(rel))) for rel in manifest}
    match_read_back(target, manifest, reads, landed, how="copied", left="the staged set was removed")


def match_read_back(
    target: str,
    manifest: dict[str, Any],
    reads: Mapping[str, Callable[[], tuple[str, int, list[Any] | None]]],
    landed: dict[str, tuple[list[Any], str]],
    *,
    how: str,
    left: str,
) -> None:
    """Each landed file's read (``reads``: its digest, size and cache key, in manifest order) matched with ``manifest``;
    READ_BACK_MISMATCH names the first that differs or cannot be read. Each file that matches, and did not move while
    it was read, is kept in ``landed`` (:attr:`Context.landed`), only once the whole set read back as listed."""
    found: dict[str, tuple[list[Any], str]] = {}
    for rel, read in reads.items():
        try:
            digest, size, key = read()
        except OSError as exc:  # deleted or locked by a filter right after it landed
            digest, size, key = f"unreadable ({exc.strerror or exc})", -1, None
        if size != manifest[rel]["size"] or digest != manifest[rel]["sha256"]:
            raise Refused(
                "failed",
                f"{rel} does not read back from {target} as it was {how} (an antivirus filter cleaned, cut or removed it?); {left}",
                "READ_BACK_MISMATCH",
            )
        if key is not None:
            found[key[3]] = (key, digest)
    landed.update(found)


def matches(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    path = folder(store, args["name"])
    for rel in args["manifest"]:
        relative(rel)
    if set_copy.matches(path, args["manifest"], ctx.cache_dir, store):
        return {}
    if os.path.islink(path):
        why = "is a link, not a folder (links are never followed)"
    elif not os.path.isdir(path):
        why = "is not a folder of the store"
    else:
        why = "no longer holds the files that were verified"
    raise Refused("conflict", f"{args['name']} {why}")


# --- moves: rename, exchange ---


def _rename_new(src: str, dst: str) -> None:
    """Rename ``src`` to the free name ``dst``; ``conflict`` (nothing moved) when the store is not as the plan read it."""
    if not os.path.lexists(src):
        raise Refused("conflict", f"{src} is not in the store")
    if os.path.lexists(dst):
        raise Refused("conflict", f"{dst} already exists")
    os.rename(src, dst)


def rename(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    target = folder(store, args["to"])
    if os.path.lexists(target):  # nothing moved: the store changed since it was read (the product copied the set in?)
        raise Refused("conflict", f"{args['to']} appeared in the store since it was read; nothing was moved")
    _rename_new(folder(store, args["from"]), target)
    set_copy.fsync_dir(store)
    return {}


def _load_renameat2() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


#: libc's renameat2, or None where the C library has none (then exchange falls back to two renames)
RENAMEAT2: Any = _load_renameat2()
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def _exchange_atomic(a: str, b: str) -> bool:
    """Swap ``a`` and ``b`` in one step; False when the kernel or file system cannot."""
    if RENAMEAT2 is None:
        return False
    if RENAMEAT2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), a)


def _holds(path: str, expected: dict[str, dict[str, Any]], cache_dir: str | None, store: str) -> bool:
    """Whether the folder ``path`` holds exactly ``expected`` (a file expected without a digest: by its size alone)."""
    for rel in expected:
        relative(rel)
    if os.path.islink(path) or not os.path.isdir(path) or set(expected) != set_copy.source_files(path):
        return False
    cache = HashCache(cache_dir, store, True)
    for rel, want in expected.items():
        full = os.path.join(path, *rel.split("/"))
        st = os.lstat(full)
        if not stat.S_ISREG(st.st_mode) or st.st_size != want["size"]:
            return False
        if want["sha256"] is not None and cache.digest(full, st) != want["sha256"]:
            return False
    return True


def exchange(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Swap two folders of the store: afterwards ``b`` holds what ``a`` held and ``a`` what ``b`` held."""
    a, b = folder(store, args["a"]), folder(store, args["b"])
    for path in (a, b):
        if not os.path.lexists(path):
            raise Refused("conflict", f"{path} is not in the store: nothing was exchanged")
    expected = args.get("expect_b")
    if expected is not None and not _holds(b, expected, ctx.cache_dir, store):
        raise Refused("conflict", f"{args['b']} no longer holds what was read (another run replaced it?): nothing was exchanged")
    atomic = _exchange_atomic(a, b)
    if not atomic:  # b has no folder between these two renames: a kill there is repaired by the next clean (_restore_asides)
        trash = os.path.join(store, f"{ctx.wire['exchange_aside_prefix']}{args['b']}-{uuid.uuid4().hex[:8]}")
        os.rename(b, trash)
        try:
            os.rename(a, b)
        except BaseException:
            os.rename(trash, b)
            raise
        os.rename(trash, a)
    set_copy.fsync_dir(store)
    return {"atomic": atomic}


# --- the pointer ---


def write_pointer(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Replace definfo.dat (or the store file ``file`` names: usage.dat) atomically, checking what lstat sees there
    right before; return the digest read back.

    A link (or a special file) named so is replaced itself (a rename onto it), never
    written through or opened; a folder is refused (the controller moves it aside first).
    """
    name = args.get("file")
    target = ctx.store_file(store, name)
    content = base64.b64decode(args["content_b64"], validate=True)
    if len(content) > ctx.wire["limits"]["max_definfo_bytes"]:
        raise ValueError(f"the new {name or ctx.wire['definfo']} is larger than {ctx.wire['limits']['max_definfo_bytes']} bytes")
    want = expected_state(args["expect_sha256"], args.get("expect_kind"))
    now = pointer_state(target)
    if now != want:
        raise _changed(ctx, now, "since it was read", name)
    if now[0] == "dir":
        raise OSError(errno.EISDIR, "a folder is never replaced by a file: move it aside first", target)
    temp = os.path.join(store, ctx.temp_name())
    try:
        with open(temp, "xb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if now[0] == "file":
            with contextlib.suppress(FileNotFoundError):
                os.chmod(temp, stat.S_IMODE(os.lstat(target).st_mode))
        now = pointer_state(target)
        if now != want:
            raise _changed(ctx, now, "while the new one was written", name)
        os.replace(temp, target)  # a rename: a link at target is replaced, not followed
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    set_copy.fsync_dir(store)
    kind, digest = pointer_state(target)
    return {"sha256": digest, "kind": kind}


def _os_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{name}: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
