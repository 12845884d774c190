"""From a ``probe`` reply to the ``smsmse_defs`` facts of one host.

Everything in the reply has passed the contract's schema; this module still
treats the values as untrusted: names are parsed, not assumed, and a file the
agent sends is checked against the digest it sends with it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import layout, listing, product, structure, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import DefinfoError, parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

DEFINFO = "definfo.dat"
MARKER = "zdone.dat"
STAGING_PREFIX = ".smsmse-staging-"
LIMITS = {"max_files_per_dir": 20000, "max_definfo_bytes": 65536, "max_events": 500}
_EVENT_MESSAGE_WIDTH = 500


def probe_request(
    *,
    is_windows: bool,
    stores: Mapping[str, str | None] | None,
    product_option: Mapping[str, str | None] | None,
    events_file: str | None,
    event_hours: int,
    hashing: Mapping[str, Any] | None = None,
    extra_stores: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The ``probe`` request for the module options; detection only where no path is given.

    ``extra_stores`` adds folders probed like stores (``source``: a folder of sets to promote from).
    """
    overrides = {name: path for name, path in (stores or {}).items() if path}
    if not is_windows and not overrides:
        raise SmsmseError("STORES_REQUIRED", "This host is not Windows and no store paths were given.")
    candidates = []
    for name in layout.STORE_NAMES:
        if name in overrides:
            candidates.append({"name": name, "template": overrides[name]})
        elif is_windows:
            candidates.extend({"name": name, "template": template} for template in layout.candidates(name))
    candidates.extend({"name": name, "template": path} for name, path in (extra_stores or {}).items() if path)
    given_product = None
    if product_option and (product_option.get("name") or product_option.get("version")):
        given_product = {
            "name": product_option.get("name") or product.PRODUCT_NAME,
            "version": product_option.get("version") or "",
        }
    return {
        "stores": candidates,
        "product": None if is_windows else given_product,
        "events_file": None if is_windows else events_file,
        "event_ids": list(product.EVENT_IDS),
        "event_hours": event_hours,
        "limits": dict(LIMITS),
        "hashing": dict(hashing) if hashing is not None else None,
    }


def select_stores(reply: Mapping[str, Any], overrides: Mapping[str, str | None]) -> dict[str, dict[str, Any]]:
    """The reply's entry for each store that exists, by store name (detection, or the path given)."""
    platform = layout.platform_for(reply["host"])
    chosen = {}
    for name in (*layout.STORE_NAMES, "source"):
        if name not in layout.STORE_NAMES and not overrides.get(name):
            continue
        entries = [entry for entry in reply["stores"] if entry["name"] == name]
        entry = _chosen(name, entries, overrides.get(name), platform)
        if entry is not None:
            chosen[name] = entry
    return chosen


def build(
    reply: Mapping[str, Any], *, overrides: Mapping[str, str | None], today: dt.date | None = None, strict: bool = True
) -> dict[str, Any]:
    """The ``smsmse_defs`` facts; raises :class:`SmsmseError` for what makes them meaningless.

    With ``strict=False`` a damaged ``definfo.dat`` gives the store no active set and a
    ``definfo_error`` instead of failing (verification reports it as a problem of the store).
    """
    host = reply["host"]
    windows = host["os"] == "windows"
    platform = layout.platform_for(host)
    found = {name: _store(entry, windows=windows, today=today, strict=strict) for name, entry in select_stores(reply, overrides).items()}
    all_versions = [s["version"] for store in found.values() for s in store["sets"]]
    given = reply["product"] or {}
    return {
        "host": {key: host[key] for key in ("hostname", "os", "os_version", "arch")},
        "platform": platform,
        "product": {**product.describe(given.get("name"), given.get("version")), "source": given.get("source")},
        "stores": found,
        "newest": versions.newest(all_versions, today=today),
        "events": [_event(event) for event in reply["events"]],
        "events_error": reply["events_error"],
    }


def _chosen(name: str, entries: list[dict[str, Any]], override: str | None, platform: str | None) -> dict[str, Any] | None:
    if override:
        entry = next((e for e in entries if e["template"] == override), None)
        if entry is None or not entry["exists"]:
            path = entry["path"] if entry else override
            raise SmsmseError("STORE_NOT_FOUND", f"The {name} store '{path}' does not exist.", path=path)
        return entry
    template = layout.choose(name, platform, [e["template"] for e in entries if e["exists"]])
    return next((e for e in entries if e["template"] == template), None)


def join(windows: bool, *parts: str) -> str:
    """Join host path parts with the host's separator."""
    separator = "\\" if windows else "/"
    return separator.join(part.rstrip("\\/") for part in parts[:-1]) + separator + parts[-1]


def _store(entry: Mapping[str, Any], *, windows: bool, today: dt.date | None, strict: bool) -> dict[str, Any]:
    path = entry["path"]
    if entry["error"]:
        raise SmsmseError("STORE_UNREADABLE", f"The {entry['name']} store '{path}' cannot be read: {entry['error']}", path=path)
    definfo_error = None
    try:
        pointer = read_pointer(entry["definfo"], join(windows, path, DEFINFO))
    except SmsmseError as exc:
        if strict or exc.code == "AGENT_REPLY_INVALID":
            raise
        pointer, definfo_error = {}, exc.as_dict()
    sets, invalid, other_dirs = [], [], []
    for folder in entry["dirs"]:
        name = folder["name"]
        if versions.looks_like_version(name):
            try:
                versions.parse_version(name, today=today)
            except versions.VersionError as exc:
                invalid.append({"name": name, "reason": str(exc)})
                continue
            sets.append(_set(folder))
        else:
            other_dirs.append({"name": name, "kind": _kind(name), "files": len(folder["files"])})
    sets.sort(key=lambda s: versions.parse_version(s["version"], today=today))
    present = {s["version"] for s in sets}
    return {
        "path": path,
        "template": entry["template"],
        "free_bytes": entry["free_bytes"],
        "active": pointer.get("active"),
        "last": pointer.get("last"),
        "active_exists": pointer.get("active") in present,
        "definfo_sha256": entry["definfo"]["sha256"],
        "definfo_error": definfo_error,
        "sets": sets,
        "invalid": invalid,
        "other_dirs": other_dirs,
    }


def read_pointer(record: Mapping[str, Any], where: str) -> dict[str, str | None]:
    """``active`` and ``last`` from an agent's ``definfo`` record, after checking it is what it claims to be."""
    if not record["present"]:
        return {}
    problem = listing.pointer_problem(record, where)
    if problem is not None:
        raise SmsmseError(problem.code, problem.message, path=where)
    if record["content_b64"] is None:
        raise SmsmseError("DEFINFO_TOO_LARGE", f"{where} is {record['size']} bytes, more than any real definfo.dat.", path=where)
    try:
        data = base64.b64decode(record["content_b64"], validate=True)
    except ValueError:
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} in a form that is not base64.", path=where) from None
    if hashlib.sha256(data).hexdigest() != record["sha256"] or len(data) != record["size"]:
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} with a size or digest that does not match its bytes.", path=where)
    try:
        info = parse_definfo(data, source=where)
    except DefinfoError as exc:
        raise SmsmseError("DEFINFO_MALFORMED", f"{exc}.", path=where) from None
    return {"active": info.cur_defs, "last": info.last_defs}


def _set(folder: Mapping[str, Any]) -> dict[str, Any]:
    files = folder["files"]
    return {
        "version": folder["name"],
        "complete": any(f["path"].lower() == MARKER for f in files),
        "files": len(files),
        "bytes": sum(f["size"] for f in files),
        "link": folder["link"],
        "truncated": folder["truncated"],
        "mtime": folder["mtime"],
    }


def _kind(name: str) -> str:
    if name.startswith(STAGING_PREFIX):
        return "staging"
    return "temporary" if structure.is_temporary(name) or name.lower().startswith("tmp") else "other"


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    message = event["message"]
    return {
        "id": event["id"],
        "time": event["time"],
        "meaning": product.event_meaning(event["id"]),
        "message": message if len(message) <= _EVENT_MESSAGE_WIDTH else message[: _EVENT_MESSAGE_WIDTH - 3] + "...",
    }
