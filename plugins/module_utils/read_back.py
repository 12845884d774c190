# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end of an ``apply`` (POSIX agent): a read of every store the change touched, in the same call.

For each store: ``definfo.dat`` as lstat sees it (its bytes when it is a regular
file of at most ``max_definfo_bytes``), the version-named folders it holds, and
the set the pointer names (``CurDefs``): what is at that name and, for a real
folder, every file with its SHA-256 (a file a ``stage`` or ``fetch`` of this same
call read back keeps that digest while its cache key is unchanged:
``primitives.Context.landed``). The controller builds the host's record
from this read, never from what it planned: a host is fixed only when the read
shows a good active set (plugins/plugin_utils/_change/read_back.py).
"""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import pointer_names, scan
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import HashCache

#: stores one read covers (the contract's bound)
MAX_STORES = 16


def _error(exc: OSError) -> str:
    return scan.wire_name(f"{exc.__class__.__name__}: {exc}", 2048)[0]


def _sets(store: str) -> list[dict[str, Any]]:
    found = []
    with os.scandir(store) as it:
        for item in sorted(it, key=lambda e: e.name):
            if scan._VERSION.match(item.name):
                found.append({"name": item.name, "link": item.is_symlink()})
    return found[: scan.MAX_ENTRIES]


def _active(store: str, name: str, cache: HashCache, limit: int) -> dict[str, Any]:
    shown, escaped = scan.wire_name(name, scan.MAX_NAME)
    record: dict[str, Any] = {"name": shown, "kind": "missing", "files": [], "truncated": False, "error": None}
    if escaped or not name or name in (".", "..") or "/" in name or "\0" in name:
        record["kind"] = "invalid"
        return record
    path = os.path.join(store, name)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return record
    except OSError as exc:
        record.update(kind="other", error=_error(exc))
        return record
    if stat.S_ISLNK(st.st_mode):
        record["kind"] = "link"
    elif not stat.S_ISDIR(st.st_mode):
        record["kind"] = "other"
    else:
        record["kind"] = "dir"
        try:
            record["files"], record["truncated"] = scan.list_files(path, limit, cache)
        except OSError as exc:
            record["error"] = _error(exc)
    return record


def read_store(
    store: str, wire: dict[str, Any], cache_dir: str | None, landed: Mapping[str, tuple[list[Any], str]] | None = None
) -> dict[str, Any]:
    """One store as the change left it (``landed``: files this call read back, :attr:`primitives.Context.landed`)."""
    limits = wire["limits"]
    record: dict[str, Any] = {"store": store, "definfo": None, "sets": [], "active": None, "error": None}
    try:
        record["definfo"] = scan.read_definfo(os.path.join(store, wire["definfo"]), int(limits["max_definfo_bytes"]))
        record["sets"] = _sets(store)
    except OSError as exc:
        record["error"] = _error(exc)
        return record
    content = record["definfo"].get("content_b64")
    current = pointer_names.def_dates(base64.b64decode(content)).get(pointer_names.CUR_DEFS) if content else None
    if current is not None:
        cache = HashCache(cache_dir, store, True, landed=landed)
        record["active"] = _active(store, current, cache, int(limits["max_manifest_files"]))
    return record


def read(
    stores: list[str], wire: dict[str, Any], cache_dir: str | None, landed: Mapping[str, tuple[list[Any], str]] | None = None
) -> list[dict[str, Any]]:
    return [read_store(store, wire, cache_dir, landed) for store in stores[:MAX_STORES]]
