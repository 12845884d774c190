# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``apply`` primitives that take a set out of a store: ``retire`` (delete) and ``quarantine`` (keep elsewhere).

A set leaves its name in one atomic rename, so no half-deleted folder ever
carries a version's name. A link named like a set is the link, never its target.
Quarantine never deletes a set before a verified copy of it exists elsewhere.

Neither removes a set the store's ``definfo.dat`` names at that moment (the
product may point at it between the controller's read and this step): the
pointer is read right before the set leaves its name and again right after; a
set it names then is put back under its name and the step ends ``conflict``.
A pointer that cannot be read (a link, a special file, too large) may name it:
the step refuses the same way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import pointer_names, set_copy
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import sha256_file
from ansible_collections.mailsec.smsmse.plugins.module_utils.primitives import Context, Refused, folder, remove_entry


def named(ctx: Context, store: str, name: str) -> str | None:
    """Why ``name`` may not leave the store now: its ``definfo.dat`` names it (or cannot be read); None when free."""
    values, why = pointer_names.read(store, ctx.wire["definfo"], int(ctx.wire["limits"]["max_definfo_bytes"]))
    if why is not None:
        return f"{why}, so it may name {name}"
    key = next((k for k, v in (values or {}).items() if v == name), None)
    return None if key is None else f"{ctx.wire['definfo']} of the store names {name} ({key}) right now (the product's own copy job?)"


def _refuse_named(ctx: Context, store: str, name: str, data: dict[str, Any]) -> None:
    why = None if name == ctx.wire["definfo"] else named(ctx, store, name)
    if why is not None:
        raise Refused("conflict", f"{name} was not removed: {why}", data=data)


def _put_back_if_named(ctx: Context, store: str, name: str, moved: str, data: dict[str, Any]) -> None:
    """After ``name`` was renamed to ``moved``: when the pointer names it now, rename it back (its name still free) and refuse."""
    why = None if name == ctx.wire["definfo"] else named(ctx, store, name)
    if why is None:
        return
    path = os.path.join(store, name)
    if os.path.lexists(path):
        raise Refused("conflict", f"{name} is at {moved}; its name was taken meanwhile, and {why}", data=data)
    os.rename(moved, path)
    set_copy.fsync_dir(store)
    raise Refused("conflict", f"{name} was put back: {why}", data=data)


_NOT_RETIRED: dict[str, Any] = {"removed": False, "trash": None, "link": False}


def retire(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Rename the set to trash, then delete it; a link is unlinked, its target left alone; never a set the pointer names."""
    path = folder(store, args["name"])
    if not os.path.lexists(path):
        return {"removed": False, "trash": None, "link": False, "message": f"{args['name']} was not in the store"}
    _refuse_named(ctx, store, args["name"], dict(_NOT_RETIRED))
    if os.path.islink(path) or not os.path.isdir(path):
        link = os.path.islink(path)
        os.unlink(path)
        set_copy.fsync_dir(store)
        what = "a link; the link was removed and its target not touched" if link else "not a folder; it was removed"
        return {"removed": True, "trash": None, "link": link, "message": f"{args['name']} was {what}"}
    trash = os.path.join(store, f"{ctx.wire['trash_prefix']}{args['name']}-{uuid.uuid4().hex[:8]}")
    os.rename(path, trash)
    set_copy.fsync_dir(store)
    _put_back_if_named(ctx, store, args["name"], trash, dict(_NOT_RETIRED))
    try:
        shutil.rmtree(trash)
    except OSError as exc:
        ctx.warnings.append(f"{args['name']} was retired to {os.path.basename(trash)}, which could not be deleted yet: {exc}")
        return {"removed": False, "trash": os.path.basename(trash), "link": False}
    return {"removed": True, "trash": None, "link": False}


def _copy_tree(source: str, target: str, hasher: ThreadPoolExecutor) -> int:
    """Copy a folder tree without following links (they are copied as links); every file is read back and compared."""
    os.mkdir(target)
    copied = 0
    for entry in sorted(os.listdir(source)):
        src, dst = os.path.join(source, entry), os.path.join(target, entry)
        mode = os.lstat(src).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISDIR(mode):
            copied += _copy_tree(src, dst, hasher)
        elif stat.S_ISREG(mode):
            size, digest = set_copy.copy_file(src, dst, hasher)
            if sha256_file(dst) != digest or os.lstat(dst).st_size != size:
                raise OSError(errno.EIO, "the copy does not read back as written", dst)
            copied += size
    set_copy.fsync_dir(target)
    return copied


def _tree_digest(root: str) -> str:
    """One digest of a tree's names, kinds and file contents (links by their target text)."""
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            path = os.path.join(current, name)
            rel = os.path.relpath(path, root)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                digest.update(f"L {rel} {os.readlink(path)}\n".encode(errors="surrogateescape"))
            elif stat.S_ISREG(mode):
                digest.update(f"F {rel} {sha256_file(path)}\n".encode(errors="surrogateescape"))
            elif stat.S_ISDIR(mode):
                digest.update(f"D {rel}\n".encode(errors="surrogateescape"))
    return digest.hexdigest()


def quarantine(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Move a set out of the store: a rename on the same volume, else copy, verify, then delete."""
    path = folder(store, args["name"])
    if not os.path.lexists(path):
        raise Refused("conflict", f"{path} is not in the store: nothing was quarantined")
    if not os.path.isabs(args["dest_dir"]):
        raise ValueError(f"the quarantine folder {args['dest_dir']!r} is not a full path")
    destination = folder(args["dest_dir"], args["dest_name"])
    _refuse_named(ctx, store, args["name"], {})
    os.makedirs(args["dest_dir"], exist_ok=True)
    if os.path.lexists(destination):
        raise Refused("conflict", f"{destination} already exists: nothing was quarantined")
    try:
        os.rename(path, destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    else:
        set_copy.fsync_dir(store)
        set_copy.fsync_dir(args["dest_dir"])
        _put_back_if_named(ctx, store, args["name"], destination, {})
        return {"destination": destination, "copied": False, "bytes_copied": 0}
    if os.path.islink(path) or not os.path.isdir(path):
        raise OSError(errno.EXDEV, "only a set folder is moved across volumes; this is a link or a file", path)
    partial = f"{destination}.partial-{uuid.uuid4().hex[:8]}"
    hasher = ThreadPoolExecutor(max_workers=1)
    try:
        copied = _copy_tree(path, partial, hasher)
        if _tree_digest(partial) != _tree_digest(path):
            raise OSError(errno.EIO, "the quarantined copy differs from the set", partial)
        os.rename(partial, destination)
        set_copy.fsync_dir(args["dest_dir"])
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        hasher.shutdown()
    trash = os.path.join(store, f"{ctx.wire['trash_prefix']}{args['name']}-{uuid.uuid4().hex[:8]}")
    os.rename(path, trash)
    set_copy.fsync_dir(store)
    _put_back_if_named(ctx, store, args["name"], trash, {"destination": destination, "copied": True, "bytes_copied": copied})
    try:
        remove_entry(trash)
    except OSError as exc:
        ctx.warnings.append(
            f"{args['name']} was copied to {destination}; its old folder {os.path.basename(trash)} is left for the next clean: {exc}"
        )
    return {"destination": destination, "copied": True, "bytes_copied": copied}
