"""The ``probe`` request of a module, and the ``smsmse_defs`` facts of one host from its :class:`Snapshot`.

Everything in the reply has passed the contract's schema and :func:`snapshot.parse`
(which checks ``definfo.dat`` against its digest); this module still treats the
values as untrusted: versions are parsed, not assumed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import layout, ntfs, product, usage
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import snapshot as snapshots
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.facts_types import (
    EventFacts,
    Facts,
    InvalidFolder,
    OtherFolder,
    SetFacts,
    StoreFacts,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import EventRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import SetFolder, Snapshot, Store
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import privacy, structure, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

DEFINFO = snapshots.DEFINFO
MARKER = "zdone.dat"
STAGING_PREFIX = ".smsmse-staging-"
LIMITS = {"max_files_per_dir": 20000, "max_definfo_bytes": 65536, "max_events": 500}
_EVENT_MESSAGE_WIDTH = 500


def probe_request(
    *,
    is_windows: bool,
    stores: Mapping[str, str | None] | None,
    product_option: Mapping[str, object] | None,
    events_file: str | None,
    event_hours: int,
    hashing: Mapping[str, object] | None = None,
    extra_stores: Mapping[str, str | None] | None = None,
    store_privacy: privacy.Rule | None = None,
) -> dict[str, Any]:
    """The ``probe`` request for the module options; detection only where no path is given.

    ``extra_stores`` adds folders probed like stores (``source``: a folder of sets to promote from).
    """
    overrides = {name: path for name, path in (stores or {}).items() if path}
    if not is_windows and not overrides:
        raise SmsmseError(
            "STORES_REQUIRED",
            "This host is not Windows and no store paths were given: set the `stores` option or the `smsmse_defs_stores` host variable.",
        )
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
        "event_ids": sorted({*product.EVENT_IDS, *product.override_event_ids(product_lines(product_option))}),
        "event_hours": event_hours,
        "limits": dict(LIMITS),
        "hashing": dict(hashing) if hashing is not None else None,
        "privacy": None if store_privacy is None else dict(store_privacy),
    }


def product_lines(product_option: Mapping[str, object] | None) -> tuple[product.Override, ...]:
    """The admin's overrides of event IDs and self-verification, from the ``product`` option's ``lines`` (checked)."""
    return product.parse_lines((product_option or {}).get("lines"))


def build(snapshot: Snapshot, *, today: dt.date | None = None, strict: bool = True, lines: tuple[product.Override, ...] = ()) -> Facts:
    """The ``smsmse_defs`` facts; raises :class:`SmsmseError` for what makes them meaningless.

    ``lines``: the admin's overrides of what a product version does (:func:`product_lines`).

    With ``strict=False`` a damaged ``definfo.dat`` gives the store no active set and a
    ``definfo_error`` instead of failing (verification reports it as a problem of the store).
    """
    host = snapshot.host
    found = {name: _store(store, today=today, strict=strict) for name, store in snapshot.stores.items()}
    all_versions = [s["version"] for store in found.values() for s in store["sets"]]
    given = snapshot.product
    return {
        "agent": {"name": snapshot.agent.name, "runtime": snapshot.agent.runtime},
        "host": {"hostname": host.hostname, "os": host.os, "os_version": host.os_version, "arch": host.arch},
        "platform": layout.platform_for({"os": host.os, "os_version": host.os_version, "arch": host.arch}),
        "product": {
            **product.describe(given.name if given else None, given.version if given else None, lines),
            "source": given.source if given else None,
            "install_folder": (snapshot.detected or {}).get("install_folder"),
            "service": (snapshot.detected or {}).get("service"),
        },
        "stores": found,
        "newest": versions.newest(all_versions, today=today),
        "events": [_event(event) for event in snapshot.events],
        "events_error": snapshot.events_error,
    }


def _store(store: Store, *, today: dt.date | None, strict: bool) -> StoreFacts:
    path = store.path
    if store.error:
        raise SmsmseError("STORE_UNREADABLE", f"The {store.name} store '{path}' cannot be read: {store.error}", path=path)
    pointer = store.pointer
    if pointer.error is not None and strict:
        raise SmsmseError(pointer.error.code, pointer.error.message, path=pointer.error.path)
    sets: list[SetFacts] = []
    invalid: list[InvalidFolder] = []
    other_dirs: list[OtherFolder] = []
    for folder in store.sets:
        try:
            versions.parse_version(folder.name, today=today)
        except versions.VersionError as exc:
            invalid.append({"name": folder.name, "reason": str(exc)})
            continue
        sets.append(_set(folder))
    for folder in store.others:
        if versions.lookalike(folder.name):
            reason = f"{folder.name!r} is not a set version: only ASCII digits, YYYYMMDD.RRR, and nothing around it"
            invalid.append({"name": folder.name, "reason": reason})
        else:
            other_dirs.append({"name": folder.name, "kind": _kind(folder.name), "files": len(folder.files)})
    sets.sort(key=lambda s: versions.parse_version(s["version"], today=today))
    present = {s["version"] for s in sets}
    return {
        "path": path,
        "template": store.template,
        "free_bytes": store.free_bytes,
        "active": pointer.active,
        "last": pointer.last,
        "active_exists": pointer.active in present,
        "definfo_sha256": pointer.sha256,
        "definfo_error": pointer.error.as_dict() if pointer.error else None,
        "sets": sets,
        "invalid": invalid,
        "other_dirs": other_dirs,
        "usage": usage.facts_of(store.usage),
    }


def _set(folder: SetFolder) -> SetFacts:
    return {
        "version": folder.name,
        "complete": any(ntfs.key(f.path) == ntfs.key(MARKER) for f in folder.files),
        "files": len(folder.files),
        "bytes": folder.bytes,
        "link": folder.link,
        "truncated": folder.truncated,
        "mtime": folder.mtime,
    }


def _kind(name: str) -> str:
    if name.startswith(STAGING_PREFIX):
        return "staging"
    return "temporary" if structure.is_temporary(name) or name.lower().startswith("tmp") else "other"


def _event(event: EventRecord) -> EventFacts:
    message = event["message"]
    return {
        "id": event["id"],
        "time": event["time"],
        "meaning": product.event_meaning(event["id"]),
        "message": message if len(message) <= _EVENT_MESSAGE_WIDTH else message[: _EVENT_MESSAGE_WIDTH - 3] + "...",
    }
