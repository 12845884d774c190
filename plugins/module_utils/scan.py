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
_VAR = re.compile(r"%([^%]+)%")


def expand(template: str, env: Mapping[str, str] | None = None) -> str:
    """Expand ``%VAR%`` from the environment; an unset variable stays as written."""
    values = os.environ if env is None else env
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def template_vars(template: str) -> list[str]:
    return _VAR.findall(template)


def _entry(rel: str, st: os.stat_result, full: str | None = None, cache: HashCache | None = None) -> dict[str, Any]:
    entry = {
        "path": rel,
        "size": st.st_size if stat.S_ISREG(st.st_mode) else 0,
        "mtime": round(st.st_mtime, 6),
        "link": stat.S_ISLNK(st.st_mode),
    }
    if cache is not None and full is not None:
        entry["sha256"] = cache.digest(full, st) if stat.S_ISREG(st.st_mode) else None
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
    record: dict[str, Any] = {"present": False, "size": None, "sha256": None, "content_b64": None}
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return record
    record["present"] = True
    record["size"] = st.st_size
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        return record
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    record["size"] = len(data)
    if len(data) > max_bytes:
        return record
    record["sha256"] = hashlib.sha256(data).hexdigest()
    record["content_b64"] = base64.b64encode(data).decode("ascii")
    return record


def scan_store(name: str, template: str, limits: Mapping[str, int], hashing: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One store candidate as the ``probe`` reply describes it; with ``hashing``, set files carry their SHA-256."""
    path = expand(template)
    store: dict[str, Any] = {
        "name": name,
        "template": template,
        "path": path,
        "exists": os.path.isdir(path),
        "error": None,
        "free_bytes": None,
        "definfo": {"present": False, "size": None, "sha256": None, "content_b64": None},
        "dirs": [],
        "files": [],
    }
    if not store["exists"]:
        return store
    cache = None
    if hashing:
        max_age = hashing.get("max_age_seconds")
        cache = HashCache(
            hashing.get("cache_dir"), path, not hashing.get("deep"), DEFAULT_MAX_AGE_SECONDS if max_age is None else int(max_age)
        )
    try:
        store["free_bytes"] = shutil.disk_usage(path).free
        store["definfo"] = read_definfo(os.path.join(path, DEFINFO), limits["max_definfo_bytes"])
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        for item in entries:
            st = item.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                files, truncated = list_files(item.path, limits["max_files_per_dir"], cache)
                store["dirs"].append(
                    {"name": item.name, "link": False, "mtime": round(st.st_mtime, 6), "files": files, "truncated": truncated}
                )
            elif stat.S_ISLNK(st.st_mode) and os.path.isdir(item.path):
                store["dirs"].append({"name": item.name, "link": True, "mtime": round(st.st_mtime, 6), "files": [], "truncated": False})
            else:
                store["files"].append(_entry(item.name, st))
    except OSError as exc:
        store["error"] = f"{exc.__class__.__name__}: {exc}"
    if cache is not None:
        cache.save()
        store["hash_stats"] = dict(cache.stats, cache_error=cache.error)
    return store
