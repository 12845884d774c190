"""A ``probe`` reply as ``schemas/agent/probe.reply.json`` describes it, once ``contract.check_reply`` has passed it.

Only :func:`snapshot.parse` reads these records: it turns them into the typed :class:`snapshot.Snapshot`.
Keys the schema does not require are ``NotRequired`` (older agents leave them out).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict


class FileRecord(TypedDict):
    """A file of a set or store folder."""

    path: str
    size: int
    mtime: float
    link: bool
    sha256: NotRequired[str | None]
    #: the name was not valid text and is shown escaped
    escaped: NotRequired[bool]
    #: the file changed while it was hashed
    changed: NotRequired[bool]


class DirRecord(TypedDict):
    """A folder of a store (a set, or anything else found there)."""

    name: str
    link: bool
    mtime: NotRequired[float]
    files: list[FileRecord]
    truncated: bool
    error: NotRequired[str | None]
    escaped: NotRequired[bool]


class PointerRecord(TypedDict):
    """``definfo.dat`` or ``usage.dat``: present or not, what lstat saw, and its bytes (base64) when small enough."""

    present: bool
    size: int | None
    sha256: str | None
    content_b64: str | None
    kind: NotRequired[Literal["file", "link", "dir", "other"]]


class StoreRecord(TypedDict):
    """One candidate store path, as the agent found it."""

    name: str
    template: str
    path: str
    exists: bool
    kind: NotRequired[Literal["dir", "file", "other", "missing", "unreadable"]]
    link: NotRequired[bool]
    error: str | None
    free_bytes: int | None
    definfo: PointerRecord
    dirs: list[DirRecord]
    files: list[FileRecord]
    hash_stats: NotRequired[dict[str, object]]
    omitted: NotRequired[dict[str, object]]
    privacy: NotRequired[dict[str, object]]
    quarantine_parent: NotRequired[dict[str, object]]
    usage: NotRequired[PointerRecord]
    real_path: NotRequired[str | None]


class HostRecord(TypedDict):
    hostname: str
    os: Literal["windows", "linux", "darwin", "other"]
    os_version: str
    arch: str
    env: dict[str, str]


class ProductRecord(TypedDict):
    name: str
    version: str
    source: str


class AgentRecord(TypedDict):
    name: Literal["defs_agent_win", "defs_agent_posix"]
    runtime: str


class UninstallRecord(TypedDict):
    """An entry of the Windows uninstall registry keys."""

    view: str
    key: str
    display_name: str | None
    display_version: str | None
    install_location: str | None


class ServiceRecord(TypedDict):
    """A Windows service."""

    name: str
    display_name: str | None
    binary_path: str | None
    state: str | None


class InstalledListing(TypedDict):
    """What a Windows host has installed, raw: the controller picks the product (:mod:`installed`)."""

    uninstall: list[UninstallRecord]
    services: list[ServiceRecord]


class EventRecord(TypedDict):
    """One event of the product's log, as the agent read it."""

    id: int
    time: str
    message: str


class ProbeReply(TypedDict):
    """The whole reply."""

    contract: int
    op: str
    agent: AgentRecord
    host: HostRecord
    product: ProductRecord | None
    stores: list[StoreRecord]
    events: list[EventRecord]
    events_error: str | None
    warnings: NotRequired[list[str]]
    installed: NotRequired[InstalledListing | None]
