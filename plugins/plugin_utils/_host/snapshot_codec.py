"""A parsed :class:`snapshot.Snapshot` as plain data and back, without parsing the reply again.

:func:`to_dict` gives JSON-safe data (bytes as base64); :func:`from_dict` rebuilds the same
frozen objects. Nothing is chosen, sorted or checked against a digest here: that was done once,
by :func:`snapshot.parse`. ``schemas/assessment.json`` describes the shape (``snapshot``).
"""

from __future__ import annotations

import base64
from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import EventRecord, ProductRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import (
    AgentInfo,
    FileEntry,
    Host,
    Pointer,
    Product,
    SetFolder,
    Snapshot,
    Store,
    UsageFile,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem, ProblemRecord


class HostData(TypedDict):
    hostname: str
    os: str
    os_version: str
    arch: str
    env: dict[str, str | None]


class AgentData(TypedDict):
    name: str
    runtime: str


class FileData(TypedDict):
    path: str
    size: int
    mtime: float
    link: bool
    sha256: str | None
    escaped: bool
    changed: bool


class FolderData(TypedDict):
    name: str
    link: bool
    truncated: bool
    mtime: float
    files: list[FileData]
    error: str | None
    escaped: bool


class PointerData(TypedDict):
    present: bool
    size: int | None
    sha256: str | None
    content_b64: str | None
    active: str | None
    last: str | None
    error: ProblemRecord | None
    kind: str


class UsageData(TypedDict):
    kind: str
    size: int | None
    sha256: str | None
    content_b64: str | None
    error: str | None


class StoreData(TypedDict):
    name: str
    template: str
    path: str
    exists: bool
    error: str | None
    free_bytes: int | None
    pointer: PointerData
    sets: list[FolderData]
    others: list[FolderData]
    files: list[FileData]
    hash_stats: dict[str, object] | None
    omitted: dict[str, object] | None
    usage: UsageData | None
    privacy: dict[str, object] | None


class SnapshotData(TypedDict):
    """A snapshot as an assessment carries it (``schemas/assessment.json`` ``snapshot``)."""

    host: HostData
    agent: AgentData
    product: ProductRecord | None
    stores: dict[str, StoreData]
    events: list[EventRecord]
    events_error: str | None
    detected: dict[str, object] | None


def to_dict(snap: Snapshot) -> SnapshotData:
    host = snap.host
    return {
        "host": {"hostname": host.hostname, "os": host.os, "os_version": host.os_version, "arch": host.arch, "env": dict(host.env)},
        "agent": {"name": snap.agent.name, "runtime": snap.agent.runtime},
        "product": None
        if snap.product is None
        else {"name": snap.product.name, "version": snap.product.version, "source": snap.product.source},
        "stores": {name: _store_dict(store) for name, store in snap.stores.items()},
        "events": [e.copy() for e in snap.events],
        "events_error": snap.events_error,
        "detected": None if snap.detected is None else dict(snap.detected),
    }


def from_dict(data: SnapshotData) -> Snapshot:
    host = data["host"]
    windows = host["os"] == "windows"
    product = data["product"]
    return Snapshot(
        host=Host(host["hostname"], host["os"], host["os_version"], host["arch"], dict(host["env"]), windows),
        product=None if product is None else Product(product["name"], product["version"], product["source"]),
        stores={name: _store(entry, windows) for name, entry in data["stores"].items()},
        events=tuple(data["events"]),
        events_error=data["events_error"],
        agent=AgentInfo(data["agent"]["name"], data["agent"]["runtime"]),
        detected=data["detected"],
    )


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _bytes(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text, validate=True)


def _file_dict(entry: FileEntry) -> FileData:
    return {
        "path": entry.path,
        "size": entry.size,
        "mtime": entry.mtime,
        "link": entry.link,
        "sha256": entry.sha256,
        "escaped": entry.escaped,
        "changed": entry.changed,
    }


def _file(data: FileData) -> FileEntry:
    return FileEntry(
        path=data["path"],
        size=data["size"],
        mtime=data["mtime"],
        link=data["link"],
        sha256=data["sha256"],
        escaped=data["escaped"],
        changed=data["changed"],
    )


def _folder_dict(folder: SetFolder) -> FolderData:
    return {
        "name": folder.name,
        "link": folder.link,
        "truncated": folder.truncated,
        "mtime": folder.mtime,
        "files": [_file_dict(f) for f in folder.files],
        "error": folder.error,
        "escaped": folder.escaped,
    }


def _folder(data: FolderData) -> SetFolder:
    return SetFolder(
        name=data["name"],
        link=data["link"],
        truncated=data["truncated"],
        mtime=data["mtime"],
        files=tuple(_file(f) for f in data["files"]),
        error=data["error"],
        escaped=data["escaped"],
    )


def _pointer_dict(pointer: Pointer) -> PointerData:
    return {
        "present": pointer.present,
        "size": pointer.size,
        "sha256": pointer.sha256,
        "content_b64": _b64(pointer.content),
        "active": pointer.active,
        "last": pointer.last,
        "error": None if pointer.error is None else pointer.error.as_dict(),
        "kind": pointer.kind,
    }


def _pointer(data: PointerData) -> Pointer:
    error = data["error"]
    return Pointer(
        present=data["present"],
        size=data["size"],
        sha256=data["sha256"],
        content=_bytes(data["content_b64"]),
        active=data["active"],
        last=data["last"],
        error=None if error is None else Problem(error["code"], error["message"], error["path"]),
        kind=data["kind"],
    )


def _usage_dict(usage: UsageFile | None) -> UsageData | None:
    if usage is None:
        return None
    return {"kind": usage.kind, "size": usage.size, "sha256": usage.sha256, "content_b64": _b64(usage.content), "error": usage.error}


def _usage(data: UsageData | None) -> UsageFile | None:
    if data is None:
        return None
    return UsageFile(data["kind"], data["size"], data["sha256"], _bytes(data["content_b64"]), data["error"])


def _store_dict(store: Store) -> StoreData:
    return {
        "name": store.name,
        "template": store.template,
        "path": store.path,
        "exists": store.exists,
        "error": store.error,
        "free_bytes": store.free_bytes,
        "pointer": _pointer_dict(store.pointer),
        "sets": [_folder_dict(f) for f in store.sets],
        "others": [_folder_dict(f) for f in store.others],
        "files": [_file_dict(f) for f in store.files],
        "hash_stats": None if store.hash_stats is None else dict(store.hash_stats),
        "omitted": None if store.omitted is None else dict(store.omitted),
        "usage": _usage_dict(store.usage),
        "privacy": None if store.privacy is None else dict(store.privacy),
    }


def _store(data: StoreData, windows: bool) -> Store:
    return Store(
        name=data["name"],
        template=data["template"],
        path=data["path"],
        exists=data["exists"],
        error=data["error"],
        free_bytes=data["free_bytes"],
        pointer=_pointer(data["pointer"]),
        sets=tuple(_folder(f) for f in data["sets"]),
        others=tuple(_folder(f) for f in data["others"]),
        files=tuple(_file(f) for f in data["files"]),
        hash_stats=data["hash_stats"],
        windows=windows,
        omitted=data["omitted"],
        usage=_usage(data["usage"]),
        privacy=data["privacy"],
    )
