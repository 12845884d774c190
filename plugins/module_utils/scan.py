# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a definition store on a POSIX host: the POSIX agent's half of ``probe``.

Runs on the target, so it needs nothing but the standard library and keeps to
syntax every supported target Python reads. It reports what is there; the
controller decides what it means.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import stat
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import DEFAULT_MAX_AGE_SECONDS, HashCache

DEFINFO = "definfo.dat"
#: the shared Hawking store's record of which product uses which set: read like definfo.dat, sent only when present
USAGE = "usage.dat"
_VAR = re.compile(r"%([^%]+)%")
#: entries of one kind (folders, or files) the reply carries per store: the contract's bound
MAX_ENTRIES = 4096
#: the longest folder name a reply carries (the contract's bound)
MAX_NAME = 260
#: names of left-out folders the reply carries, so that the report can say which
MAX_OMITTED_NAMES = 32
#: a definfo.dat larger than the limit is still hashed up to this size, so that a change can replace it
MAX_DEFINFO_HASH = 16 << 20
_VERSION = re.compile(r"[0-9]{8}\.[0-9]{3}\Z")
KINDS = ((stat.S_ISREG, "file"), (stat.S_ISLNK, "link"), (stat.S_ISDIR, "dir"))


def expand(template: str, env: Mapping[str, str] | None = None) -> str:
    """Expand ``%VAR%`` from the environment; an unset variable stays as written."""
    values = os.environ if env is None else env
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def template_vars(template: str) -> list[str]:
    return _VAR.findall(template)


def wire_name(name: str, limit: int = 1024) -> tuple[str, bool]:
    """``name`` as a reply can carry it, and whether it had to be altered to fit.

    A name that is not UTF-8 (Python holds its bytes as surrogates) cannot cross the
    wire: ansible-core refuses the whole reply. Its bytes are sent escaped instead
    (``b'\\xff'`` as the four characters ``\\xff``); a name longer than ``limit``
    (the contract's bound) is shortened. Either way the reply flags it ``escaped``.
    """
    altered = False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name, altered = os.fsencode(name).decode("utf-8", "backslashreplace"), True
    if len(name) > limit:
        name, altered = name[: limit - 3] + "...", True
    return name, altered


def _entry(rel: str, st: os.stat_result, full: str | None = None, cache: HashCache | None = None) -> dict[str, Any]:
    shown, escaped = wire_name(rel)
    entry: dict[str, Any] = {
        "path": shown,
        "size": st.st_size if stat.S_ISREG(st.st_mode) else 0,
        "mtime": round(st.st_mtime, 6),
        "link": stat.S_ISLNK(st.st_mode),
    }
    if escaped:
        entry["escaped"] = True
    if cache is not None and full is not None:
        entry["sha256"] = cache.digest(full, st) if stat.S_ISREG(st.st_mode) else None
        if full in cache.changed:
            entry["changed"] = True
    return entry


def list_files(top: str, limit: int, cache: HashCache | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Every file below ``top`` (links reported, never followed), '/' separated; and whether cut at ``limit``.

    With a ``cache``, each regular file also gets its ``sha256`` (None when it cannot be read).
    """
    found: list[dict[str, Any]] = []
    pending = [""]
    while pending:
        rel_dir = pending.pop()
        with os.scandir(os.path.join(top, rel_dir) if rel_dir else top) as it:
            for item in sorted(it, key=lambda e: e.name):
                rel = rel_dir + "/" + item.name if rel_dir else item.name
                st = item.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    pending.append(rel)
                    continue
                if len(found) >= limit:
                    return found, True
                found.append(_entry(rel, st, item.path, cache))
    return found, False


def read_definfo(path: str, max_bytes: int) -> dict[str, Any]:
    """``definfo.dat`` as the reply carries it; never follows a link, never opens anything but a regular file.

    ``kind`` says what is there. A regular file larger than ``max_bytes`` is sent
    without its content but with its digest (up to :data:`MAX_DEFINFO_HASH`), so that
    a change's compare-and-swap can expect it and replace it.
    """
    record: dict[str, Any] = {"present": False, "size": None, "sha256": None, "content_b64": None}
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return record
    record["present"] = True
    record["size"] = st.st_size
    record["kind"] = next((kind for test, kind in KINDS if test(st.st_mode)), "other")
    if record["kind"] != "file" or st.st_size > MAX_DEFINFO_HASH:
        return record
    try:  # no link, no FIFO swapped in since the lstat: opened without following, without blocking
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        record["kind"] = "other"
        return record
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            record["kind"] = "other"
            return record
        data = handle.read(max_bytes + 1)
        digest = hashlib.sha256(data)
        # only a file too large to send is read on for its digest: the digest of a file sent is that of the bytes sent,
        # even when the product writes the file again while it is read
        for chunk in iter(lambda: handle.read(1 << 20), b"") if len(data) > max_bytes else ():
            digest.update(chunk)
    record["sha256"] = digest.hexdigest()
    if len(data) > max_bytes:
        return record
    record["size"] = len(data)
    record["content_b64"] = base64.b64encode(data).decode("ascii")
    return record


def _error(exc: OSError) -> str:
    """An OS error as a reply can carry it (a file name in it may not be UTF-8)."""
    return wire_name(f"{exc.__class__.__name__}: {exc}", 2048)[0]


def _bounded(folders: list[Any]) -> tuple[list[Any], list[Any]]:
    """The folders the reply lists (at most :data:`MAX_ENTRIES`: sets first, newest first) and those left out."""
    if len(folders) <= MAX_ENTRIES:
        return folders, []
    sets = sorted((f for f in folders if _VERSION.match(f[0].name)), key=lambda f: f[0].name, reverse=True)
    others = [f for f in folders if not _VERSION.match(f[0].name)]
    ranked = sets + others
    kept = sorted(ranked[:MAX_ENTRIES], key=lambda f: f[0].name)
    return kept, ranked[MAX_ENTRIES:]


def _folder(item: Any, st: os.stat_result, limits: Mapping[str, int], cache: HashCache | None) -> dict[str, Any]:
    """One folder of a store (a link to a folder is reported, never followed); an unreadable one carries its ``error``."""
    name, escaped = wire_name(item.name, MAX_NAME)
    link = stat.S_ISLNK(st.st_mode)
    record: dict[str, Any] = {"name": name, "link": link, "mtime": round(st.st_mtime, 6), "files": [], "truncated": False}
    if escaped:
        record["escaped"] = True
    if not link:
        try:
            record["files"], record["truncated"] = list_files(item.path, limits["max_files_per_dir"], cache)
        except OSError as exc:
            record["error"] = _error(exc)
    return record


def path_kind(path: str) -> tuple[str, bool, str | None]:
    """What is at a store's path, following a link as a store path is followed: its kind, whether it is a link, an error.

    ``dir``, ``file``, ``other`` (FIFO, device, socket), ``missing`` (also a link to
    nothing, or a path through a file) or ``unreadable`` (the agent may not look; the
    error says why).
    """
    try:
        st = os.lstat(path)
        link = stat.S_ISLNK(st.st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", False, None
    except OSError as exc:
        return "unreadable", False, _error(exc)
    try:
        if link:
            st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "missing", True, None
    except OSError as exc:
        return "unreadable", True, _error(exc)
    return next((kind for test, kind in KINDS if test(st.st_mode)), "other"), link, None


def scan_store(name: str, template: str, limits: Mapping[str, int], hashing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One store candidate as the ``probe`` reply describes it; with ``hashing``, set files carry their SHA-256."""
    path = expand(template)
    kind, link, error = path_kind(path)
    store: dict[str, Any] = {
        "name": name,
        "template": template,
        "path": path,
        "exists": kind == "dir",
        "kind": kind,
        "error": error,
        "free_bytes": None,
        "definfo": {"present": False, "size": None, "sha256": None, "content_b64": None},
        "dirs": [],
        "files": [],
    }
    if link:
        store["link"] = True
    if not store["exists"]:
        return store
    store["real_path"] = wire_name(os.path.realpath(path), 4096)[0]  # two stores that are one folder through a link
    cache = None
    if hashing:
        max_age = hashing.get("max_age_seconds")
        cache = HashCache(
            hashing.get("cache_dir"), path, not hashing.get("deep"), DEFAULT_MAX_AGE_SECONDS if max_age is None else int(max_age)
        )
    try:
        store["free_bytes"] = shutil.disk_usage(path).free
        store["definfo"] = read_definfo(os.path.join(path, DEFINFO), limits["max_definfo_bytes"])
        usage = read_definfo(os.path.join(path, USAGE), limits["max_definfo_bytes"])
        if usage["present"]:
            store["usage"] = usage
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        folders: list[tuple[os.DirEntry[str], os.stat_result]] = []
        files: list[tuple[os.DirEntry[str], os.stat_result]] = []
        for item in entries:
            st = item.stat(follow_symlinks=False)
            is_folder = stat.S_ISDIR(st.st_mode) or (stat.S_ISLNK(st.st_mode) and os.path.isdir(item.path))
            (folders if is_folder else files).append((item, st))
        kept, omitted = _bounded(folders)
        store["dirs"] = [_folder(item, st, limits, cache) for item, st in kept]
        store["files"] = [_entry(item.name, st) for item, st in files[:MAX_ENTRIES]]
        if omitted or len(files) > MAX_ENTRIES:
            store["omitted"] = {
                "dirs": len(omitted),
                "files": max(0, len(files) - MAX_ENTRIES),
                "names": [wire_name(item.name, MAX_NAME)[0] for item, _st in omitted[:MAX_OMITTED_NAMES]],
            }
    except OSError as exc:
        store["error"] = _error(exc)
    if cache is not None:
        cache.save()
        store["hash_stats"] = dict(cache.stats, cache_error=cache.error)
        if cache.refused is not None:
            store["hash_stats"]["cache_refused"] = wire_name(cache.refused, 2048)[0]
    return store
