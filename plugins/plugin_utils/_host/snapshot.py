"""One ``probe`` reply, read once: the typed host that verification, facts, planning and health share.

The classes mirror ``schemas/agent/probe.reply.json``. :func:`parse` takes a
reply that has passed the contract and does, once per task, what every reader
needs: it chooses the stores (detection, or the paths the options give), sorts
each store's folders into sets (named ``YYYYMMDD.RRR``) and others, and reads
each ``definfo.dat`` after checking its bytes against the digest the agent
sent. A damaged ``definfo.dat`` is not an exception here: it is the store's
:attr:`Pointer.error`, for each reader to treat as it must.

A reply is parsed once per run: :func:`assessment.assess` parses it and
judges it, and the :class:`assessment.Assessment` it returns carries the
:class:`Snapshot` on (serialised by :mod:`snapshot_codec`), never the raw reply.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, installed, layout, listing, store_names, store_overlap
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import DefinfoError, parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import (
    DirRecord,
    EventRecord,
    FileRecord,
    PointerRecord,
    ProbeReply,
    StoreRecord,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

DEFINFO = "definfo.dat"
USAGE = "usage.dat"
#: the stores the product copies from, in the order the source rule ranks them (see verify.judge)
SOURCE_STORES = store_names.SOURCE_STORES
#: the folder a caller names with ``source_path``: probed like a store, never chosen by detection
EXTRA_STORE = "source"


def join(windows: bool, *parts: str) -> str:
    """Join host path parts with the host's separator."""
    separator = "\\" if windows else "/"
    return separator.join(part.rstrip("\\/") for part in parts[:-1]) + separator + parts[-1]


@dataclass(frozen=True)
class Host:
    hostname: str
    os: str
    os_version: str
    arch: str
    env: Mapping[str, str | None]
    windows: bool


@dataclass(frozen=True)
class AgentInfo:
    """Which agent served the host: its module name and the runtime that ran it."""

    name: str
    runtime: str


@dataclass(frozen=True)
class Product:
    name: str
    version: str
    source: str


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime: float
    link: bool
    sha256: str | None  # None when not hashed, unreadable, or a link
    escaped: bool = False  # the path is not the name on the host (not text there, or too long): see listing
    changed: bool = False  # with hashing: the file changed while the agent read it, so it has no digest


class ManifestEntry(TypedDict):
    """A file of a set as a manifest names it (None: the file was not hashed)."""

    size: int
    sha256: str | None


@dataclass(frozen=True)
class SetFolder:
    name: str
    link: bool
    truncated: bool
    mtime: float
    files: tuple[FileEntry, ...]
    error: str | None = None  # the agent could not list it (see listing)
    escaped: bool = False

    def manifest(self) -> dict[str, ManifestEntry]:
        """Relative path -> ``{size, sha256}``, as install requests carry it."""
        return {f.path: {"size": f.size, "sha256": f.sha256} for f in self.files}

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Pointer:
    """A store's ``definfo.dat``: ``active`` (CurDefs) and ``last`` (LastDefs), or the ``error`` that hides them."""

    present: bool
    size: int | None
    sha256: str | None
    content: bytes | None
    active: str | None
    last: str | None
    error: Problem | None
    #: what lstat saw: absent, file, link, dir or other (an agent that does not say: a file when present)
    kind: str = "absent"


@dataclass(frozen=True)
class UsageFile:
    """A store's ``usage.dat`` as the agent read it: its bytes (checked against the digest), or why they are not there."""

    kind: str  # what lstat saw: file, link, dir or other
    size: int | None
    sha256: str | None
    content: bytes | None
    error: str | None  # not a regular file, too large to carry: reported, never rewritten


@dataclass(frozen=True)
class Store:
    name: str
    template: str
    path: str
    exists: bool
    error: str | None
    free_bytes: int | None
    pointer: Pointer
    sets: tuple[SetFolder, ...]  # folders named YYYYMMDD.RRR (ASCII digits, matched whole)
    others: tuple[SetFolder, ...]  # every other folder
    files: tuple[FileEntry, ...]
    hash_stats: Mapping[str, Any] | None
    windows: bool
    omitted: Mapping[str, Any] | None = None  # folders and files beyond what a reply carries (see listing)
    usage: UsageFile | None = None  # None: the store has no usage.dat (or the agent did not read it)
    privacy: Mapping[str, Any] | None = None  # the agent's check of the store's ACL (Windows), as it sent it

    def folder(self, name: str) -> str:
        """The host path of ``name`` in this store."""
        return join(self.windows, self.path, name)

    def set(self, version: str) -> SetFolder | None:
        return next((s for s in self.sets if s.name == version), None)


@dataclass(frozen=True)
class Snapshot:
    host: Host
    product: Product | None
    stores: Mapping[str, Store]  # the chosen stores that exist, by name
    events: tuple[EventRecord, ...]
    events_error: str | None
    agent: AgentInfo
    #: what the controller found in the agent's raw listing (installed.detect): install folder, service; None: not listed
    detected: Mapping[str, Any] | None = None

    def join(self, *parts: str) -> str:
        return join(self.host.windows, *parts)


def parse(reply: Mapping[str, object], overrides: Mapping[str, str | None]) -> Snapshot:
    """The typed host from a contract-checked ``probe`` reply (:class:`probe_reply.ProbeReply`); store selection
    happens here, once.

    Raises :class:`SmsmseError` when a path the options give is no folder (``STORE_NOT_FOUND``,
    ``STORE_NOT_A_FOLDER`` or ``STORE_UNREADABLE``, see :data:`NOT_A_STORE`), and
    ``AGENT_REPLY_INVALID`` when a ``definfo.dat`` does not match its digest, and ``OPTION_INVALID`` when two
    stores overlap (:mod:`store_overlap`).
    """
    checked = cast(ProbeReply, reply)  # contract.check_reply passed it: every key and value is as the schema says
    raw_host = checked["host"]
    windows = raw_host["os"] == "windows"
    host = Host(
        hostname=raw_host["hostname"],
        os=raw_host["os"],
        os_version=raw_host["os_version"],
        arch=raw_host["arch"],
        env=dict(raw_host["env"]),
        windows=windows,
    )
    given = checked["product"]
    product = Product(name=given["name"], version=given["version"], source=given["source"]) if given else None
    detected = installed.detect(checked.get("installed"))
    if detected is not None:  # the controller's pick from the raw listing replaces the agent's own
        product = Product(name=detected["name"], version=detected["version"] or "", source=detected["source"]) if detected["name"] else None
    selected = select_stores(checked, overrides)
    store_overlap.refuse(selected, windows)  # before anything is judged or changed
    stores = {name: _store(entry, windows) for name, entry in selected.items()}
    return Snapshot(
        host=host,
        product=product,
        stores=stores,
        events=tuple(checked["events"]),
        events_error=checked["events_error"],
        agent=AgentInfo(name=checked["agent"]["name"], runtime=checked["agent"]["runtime"]),
        detected=detected,
    )


def select_stores(reply: ProbeReply, overrides: Mapping[str, str | None]) -> dict[str, StoreRecord]:
    """The reply's raw entry for each store that exists, by name (detection, or the path given)."""
    platform = layout.platform_for(reply["host"])
    chosen = {}
    for name in (*layout.STORE_NAMES, EXTRA_STORE):
        if name not in layout.STORE_NAMES and not overrides.get(name):
            continue
        entries = [entry for entry in reply["stores"] if entry["name"] == name]
        entry = _chosen(name, entries, overrides.get(name), platform)
        if entry is not None:
            chosen[name] = entry
    return chosen


#: what is at a store path the options give, when it is no folder: (kind, is a link) -> (code, what the path is)
NOT_A_STORE: dict[tuple[str, bool], tuple[str, str]] = {
    ("file", False): ("STORE_NOT_A_FOLDER", "is a file, not a folder"),
    ("file", True): ("STORE_NOT_A_FOLDER", "is a link to a file, not a folder"),
    ("other", False): ("STORE_NOT_A_FOLDER", "is a special file (FIFO, device or socket), not a folder"),
    ("other", True): ("STORE_NOT_A_FOLDER", "is a link to a special file (FIFO, device or socket), not a folder"),
    ("missing", False): ("STORE_NOT_FOUND", "does not exist"),
    ("missing", True): ("STORE_NOT_FOUND", "is a link to nothing (its target does not exist)"),
    ("unreadable", False): ("STORE_UNREADABLE", "cannot be looked at by the connecting account"),
    ("unreadable", True): ("STORE_UNREADABLE", "is a link the connecting account cannot follow"),
}


def _chosen(name: str, entries: list[StoreRecord], override: str | None, platform: str | None) -> StoreRecord | None:
    if override:
        entry = next((e for e in entries if e["template"] == override), None)
        if entry is None or not entry["exists"]:
            raise _not_a_store(name, entry, override)
        return entry
    return layout.choose_entry(name, platform, entries)


def _not_a_store(name: str, entry: StoreRecord | None, override: str) -> SmsmseError:
    """The error for a store path the options give that is no folder, saying what it is (agents that send no ``kind``: missing)."""
    path = entry["path"] if entry else override
    kind = entry.get("kind", "missing") if entry else "missing"
    link = bool(entry.get("link")) if entry else False
    code, what = NOT_A_STORE.get((kind, link), NOT_A_STORE[("missing", False)])
    option = "`source_path`" if name == EXTRA_STORE else f"`stores.{name}`"
    detail = f"The {name} store '{path}' {what}"
    if kind == "unreadable":
        reason = entry.get("error") if entry else None
        return SmsmseError(code, f"{detail}{': ' + reason if reason else ''}.", path=path)
    return SmsmseError(code, f"{detail}: {option} must name the folder that holds definfo.dat and the version folders.", path=path)


def _store(entry: StoreRecord, windows: bool) -> Store:
    folders = [set_folder(d) for d in entry["dirs"]]
    return Store(
        name=entry["name"],
        template=entry["template"],
        path=entry["path"],
        exists=entry["exists"],
        error=entry["error"],
        free_bytes=entry["free_bytes"],
        pointer=_pointer(entry["definfo"], join(windows, entry["path"], DEFINFO)),
        sets=tuple(f for f in folders if versions.looks_like_version(f.name)),
        others=tuple(f for f in folders if not versions.looks_like_version(f.name)),
        files=tuple(_file(f) for f in entry["files"]),
        hash_stats=entry.get("hash_stats"),
        windows=windows,
        omitted=entry.get("omitted"),
        usage=_usage(entry.get("usage"), join(windows, entry["path"], USAGE)),
        privacy=entry.get("privacy"),
    )


def _usage(record: PointerRecord | None, where: str) -> UsageFile | None:
    """``usage.dat`` from the reply (absent: None); its bytes must match its digest like definfo.dat's."""
    if not record or not record["present"]:
        return None
    kind = str(record.get("kind") or "file")
    usage_file = functools.partial(UsageFile, kind=kind, size=record["size"], sha256=record["sha256"])
    if kind != "file":
        return usage_file(content=None, error=f"{where} is a {kind}, not a regular file: it is never read or rewritten")
    if record["content_b64"] is None:
        return usage_file(content=None, error=f"{where} is {record['size']} bytes, more than the agent reads: it is never rewritten")
    try:
        data = base64.b64decode(record["content_b64"], validate=True)
    except (ValueError, binascii.Error):
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} in a form that is not base64.", path=where) from None
    if hashlib.sha256(data).hexdigest() != record["sha256"] or len(data) != record["size"]:
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} with a size or digest that does not match its bytes.", path=where)
    return usage_file(content=data, error=None)


def _file(record: FileRecord) -> FileEntry:
    return FileEntry(
        path=record["path"],
        size=record["size"],
        mtime=record["mtime"],
        link=record["link"],
        sha256=record.get("sha256"),
        escaped=bool(record.get("escaped")),
        changed=bool(record.get("changed")),
    )


def set_folder(record: DirRecord) -> SetFolder:
    """A folder from an agent ``dir`` record (or a listing shaped like one; ``mtime`` may be left out)."""
    return SetFolder(
        name=record["name"],
        link=record["link"],
        truncated=record["truncated"],
        mtime=record.get("mtime", 0.0),
        files=tuple(_file(f) for f in record["files"]),
        error=record.get("error"),
        escaped=bool(record.get("escaped")),
    )


def _pointer(record: PointerRecord, where: str) -> Pointer:
    kind = str(record.get("kind") or "file") if record["present"] else "absent"
    pointer = functools.partial(Pointer, present=record["present"], size=record["size"], sha256=record["sha256"], kind=kind)
    if not record["present"]:
        return pointer(content=None, active=None, last=None, error=None)
    not_a_file = listing.pointer_problem(record, where)
    if not_a_file is not None:
        return pointer(content=None, active=None, last=None, error=not_a_file)
    if record["content_b64"] is None:
        limit = contract.wire()["limits"]["max_definfo_bytes"]
        text = f"{where} is {record['size']} bytes, more than the {limit} bytes any real definfo.dat holds; enforce replaces it."
        problem = Problem("DEFINFO_TOO_LARGE", text, where)
        return pointer(content=None, active=None, last=None, error=problem)
    try:
        data = base64.b64decode(record["content_b64"], validate=True)
    except (ValueError, binascii.Error):
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} in a form that is not base64.", path=where) from None
    if hashlib.sha256(data).hexdigest() != record["sha256"] or len(data) != record["size"]:
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent sent {where} with a size or digest that does not match its bytes.", path=where)
    try:
        info = parse_definfo(data, source=where)
    except DefinfoError as exc:
        return pointer(content=data, active=None, last=None, error=Problem("DEFINFO_MALFORMED", f"{exc}.", where))
    return pointer(content=data, active=info.cur_defs, last=info.last_defs, error=None)
