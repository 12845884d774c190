"""Verdicts on every set of a host: ``good``, ``bad`` or ``unknown``, and exactly why.

A set is good only when every enabled check passes: structure (always), the
signed catalog (when one is configured: a version it does not list is
``unknown``), and fleet consensus (applied afterwards, across hosts, by
:func:`apply_consensus`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog as catalogs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import facts, listing, manifest, structure, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.consensus import Finding
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.problems import Problem

GOOD, BAD, UNKNOWN = "good", "bad", "unknown"
_STAT_KEYS = ("files_hashed", "bytes_hashed", "files_cached", "bytes_cached")


def verify_host(
    reply: Mapping[str, Any],
    *,
    overrides: Mapping[str, str | None],
    required_files: Iterable[str],
    catalog: catalogs.Catalog | None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The ``verification`` result of one host from a hashing ``probe`` reply."""
    windows = reply["host"]["os"] == "windows"

    def join(*parts: str) -> str:
        return facts.join(windows, *parts)

    required = tuple(required_files)
    sets: list[dict[str, Any]] = []
    active: dict[str, dict[str, Any]] = {}
    stats = dict.fromkeys(_STAT_KEYS, 0)
    cache_errors = []
    store_problems: dict[str, list[dict[str, Any]]] = {}
    for store_name, entry in facts.select_stores(reply, overrides).items():
        if entry["error"]:
            raise SmsmseError(
                "STORE_UNREADABLE", f"The {store_name} store '{entry['path']}' cannot be read: {entry['error']}", path=entry["path"]
            )
        for key in _STAT_KEYS:
            stats[key] += (entry.get("hash_stats") or {}).get(key, 0)
        if (entry.get("hash_stats") or {}).get("cache_error"):
            cache_errors.append(entry["hash_stats"]["cache_error"])
        store_sets = [
            _verify_set(
                store_name, folder, where=join(entry["path"], folder["name"]), join=join, required=required, catalog=catalog, today=today
            )
            for folder in entry["dirs"]
            if versions.looks_like_version(folder["name"])
        ]
        sets.extend(store_sets)
        store_problems[store_name] = [p.as_dict() for p in listing.store_problems(entry, join=join)]
        active[store_name] = _active(entry["definfo"], store_sets, join(entry["path"], facts.DEFINFO))
    return {
        "sets": sets,
        "active": active,
        "newest_good": newest_good(sets),
        "store_problems": store_problems,
        "hash_stats": {**stats, "cache_errors": cache_errors},
        "catalog": catalog.summary() if catalog else None,
    }


def _verify_set(
    store: str,
    folder: Mapping[str, Any],
    *,
    where: str,
    join: structure.Join,
    required: tuple[str, ...],
    catalog: catalogs.Catalog | None,
    today: dt.date | None,
) -> dict[str, Any]:
    version = folder["name"]
    problems = listing.set_problems(folder, where=where, join=join)
    if not folder.get("error"):
        problems += structure.check_set(listing.readable(folder), where=where, join=join, required_files=required, hashed=True, today=today)
    files = manifest.from_files(folder["files"]) if not folder["link"] else None
    status = GOOD
    if catalog is not None and files is not None:
        against = catalogs.check_set(catalog, version, files, where=where, join=join)
        if against is None:
            status = UNKNOWN
        else:
            problems.extend(against)
    if problems:
        status = BAD
    return {
        "store": store,
        "version": version,
        "status": status,
        "errors": [p.as_dict() for p in problems],
        "digest": manifest.digest(files) if files is not None else None,
        "files": len(folder["files"]),
        "bytes": sum(f["size"] for f in folder["files"]),
    }


def _active(definfo: Mapping[str, Any], store_sets: list[dict[str, Any]], definfo_path: str) -> dict[str, Any]:
    try:
        version = facts.read_pointer(definfo, definfo_path).get("active")
    except SmsmseError as exc:
        if exc.code == "AGENT_REPLY_INVALID":
            raise
        return {"version": None, "status": BAD, "errors": [exc.as_dict()]}
    if version is None:
        return {"version": None, "status": "none", "errors": []}
    match = next((s for s in store_sets if s["version"] == version), None)
    if match is None:
        problem = Problem("POINTER_MISSING_SET", f"definfo.dat names {version}, which is not in the store.", definfo_path)
        return {"version": version, "status": BAD, "errors": [problem.as_dict()]}
    return {"version": version, "status": match["status"], "errors": match["errors"]}


def newest_good(sets: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """The newest good version per store and overall."""
    best: dict[str, str | None] = {}
    for entry in sets:
        if entry["status"] != GOOD:
            continue
        for key in (entry["store"], "overall"):
            current = best.get(key)
            if current is None or versions.parse_version(entry["version"]) > versions.parse_version(current):
                best[key] = entry["version"]
    best.setdefault("overall", None)
    return best


def mark_bad(verification: Mapping[str, Any], marks: Iterable[tuple[str, str, Mapping[str, Any]]]) -> dict[str, Any]:
    """A copy of ``verification`` with each (store, version, problem) set marked bad; pointers and newest_good follow."""
    problems: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for store, version, problem in marks:
        problems.setdefault((store, version), []).append(dict(problem))
    sets = []
    for entry in verification["sets"]:
        extra = problems.get((entry["store"], entry["version"]))
        sets.append({**entry, "status": BAD, "errors": [*entry["errors"], *extra]} if extra else entry)
    active = {}
    for store, record in verification["active"].items():
        match = next((s for s in sets if s["store"] == store and s["version"] == record["version"]), None)
        active[store] = {**record, "status": match["status"], "errors": match["errors"]} if match else record
    return {**verification, "sets": sets, "active": active, "newest_good": newest_good(sets)}


def apply_consensus(verification: Mapping[str, Any], findings: Iterable[Finding], host: str) -> dict[str, Any]:
    """A copy of ``verification`` with this host's minority sets marked bad."""
    marks = []
    for finding in findings:
        if finding.host == host:
            problem = {k: v for k, v in finding.as_dict().items() if k in ("code", "message", "path")}
            marks.append((finding.store, finding.version, problem))
    return mark_bad(verification, marks)
