"""One store of a host as the planner and the decision read it: the probe's store with its sets' verdicts.

:func:`view` gives every store of a :class:`snapshot.Snapshot` with the verdicts of a
``verification``; :class:`Context` is what every plan of a task shares.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts, usage
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import (
    CUR_DEFS,
    DEFDATES,
    LAST_DEFS,
    DefinfoError,
    new_definfo,
    parse_definfo,
    render_definfo,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import USAGE, ManifestEntry, Snapshot, Store
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

GOOD, BAD = "good", "bad"


@dataclass(frozen=True)
class Context:
    """What every plan of a task shares: options that shape the steps, and the host's platform."""

    windows: bool
    stale_seconds: int = 900
    events_file: str | None = None
    restart: steps.Restart | None = None
    staging_prefix: str = facts.STAGING_PREFIX
    trash_prefix: str = ".smsmse-trash-"
    exchange_aside_prefix: str = ".smsmse-trash-exchange-"
    token: Callable[[], str] = lambda: uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class StoreView:
    """One store as the probe saw it (:class:`snapshot.Store`) with its sets' verdicts."""

    store: Store
    sets: dict[str, verify.SetVerdict]  # version -> verification record
    active: str | None
    #: the active set's verdict: good, bad, unknown, or none (definfo.dat names no set)
    active_status: str | None

    @property
    def name(self) -> str:
        return self.store.name

    @property
    def path(self) -> str:
        return self.store.path

    @property
    def windows(self) -> bool:
        return self.store.windows

    def with_status(self, status: str) -> list[str]:
        return sorted((v for v, s in self.sets.items() if s["status"] == status), key=versions.sort_key)

    def good(self) -> list[str]:
        return self.with_status(GOOD)

    def manifest(self, version: str) -> dict[str, ManifestEntry]:
        folder = self.store.set(version)
        if folder is None:  # a verdict always comes from a folder of the same snapshot
            raise SmsmseError("VERSION_NOT_FOUND", f"The {self.name} store does not hold {version}.", path=self.path)
        return folder.manifest()

    def size(self, version: str) -> int:
        return sum(entry["size"] for entry in self.manifest(version).values())

    def folder(self, version: str) -> str:
        return self.store.folder(version)

    def definfo_bytes(self) -> bytes | None:
        return self.store.pointer.content

    def render_pointer(self, version: str, previous: str | None, removed: Collection[str] = ()) -> bytes:
        """``definfo.dat`` naming ``version``: the current file with CurDefs changed, and LastDefs (where the file has
        it) set to ``previous`` only when that is a good set the store keeps; else it keeps the set it named, unless the
        change removes that one (``removed``): then it names ``version``. LastDefs never names a removed set."""
        current = self.definfo_bytes()
        try:
            info = parse_definfo(current) if current is not None else None
        except DefinfoError:
            info = None
        if info is None:
            return render_definfo(new_definfo(version))
        changed = info.with_value(DEFDATES, CUR_DEFS, version)
        keeps_previous = previous in self.sets and self.sets[previous]["status"] == GOOD and previous not in removed
        last = info.get(DEFDATES, LAST_DEFS)
        if previous and keeps_previous and last is not None and previous != version:
            changed = changed.with_value(DEFDATES, LAST_DEFS, previous)
        elif last is not None and last in removed:  # never a set this change removes: the set it points at instead
            changed = changed.with_value(DEFDATES, LAST_DEFS, version)
        return render_definfo(changed)

    def pointer_changes(self, content: bytes) -> bool:
        return content != self.definfo_bytes()

    def usage(self) -> usage.Usage | None:
        """The store's usage.dat, parsed; None when it has none, or one that is never rewritten (not text, too large, a link)."""
        found = self.store.usage
        if found is None or found.content is None or found.kind != "file":
            return None
        try:
            return usage.parse(found.content)
        except usage.UsageError:
            return None

    def usage_after(self, target: str, removed: Collection[str] = ()) -> bytes | None:
        """usage.dat once ``target`` is the store's active set and ``removed`` are gone: every section naming a set that is
        then missing or bad moved under ``target``. None when it has no such section (or no usage.dat to rewrite)."""
        parsed = self.usage()
        if parsed is None or self.store.usage is None:
            return None
        held = {v: str(record["status"]) for v, record in self.sets.items() if v not in removed}
        held[target] = GOOD
        moving = usage.stale(parsed, held)
        if not moving:
            return None
        content = parsed.move(moving, target).render()
        return content if content != self.store.usage.content else None

    def usage_steps(self, content: bytes | None, *, commit: bool) -> list[steps.Step]:
        """Replace usage.dat with ``content`` (none when None), compare-and-swap on the digest the probe read."""
        if content is None or self.store.usage is None:
            return []
        return [steps.write_pointer(self.path, content, self.store.usage.sha256, "file", commit=commit, file=USAGE)]

    def foreign_sets(self) -> set[str]:
        """Sets usage.dat names for a product other than SMSMSE: never retired to keep a number of sets."""
        parsed = self.usage()
        return usage.foreign(parsed) if parsed is not None else set()

    @property
    def definfo_sha256(self) -> str | None:
        return self.store.pointer.sha256

    @property
    def definfo_kind(self) -> str:
        """What the agent's lstat saw at definfo.dat: absent, file, link, dir or other."""
        return self.store.pointer.kind

    def leftovers(self, ctx: Context) -> list[str]:
        return [f.name for f in self.store.others if f.name.startswith((ctx.staging_prefix, ctx.trash_prefix))]

    def aside(self, ctx: Context, version: str) -> bool:
        """Whether an interrupted exchange left ``version``'s folder aside (the next ``clean`` puts it back when the name is free)."""
        lead = f"{ctx.exchange_aside_prefix}{version}-"
        return version not in self.sets and any(f.name.startswith(lead) for f in self.store.others)

    def group(self, ctx: Context, events: Sequence[Mapping[str, object]]) -> steps.Group:
        return steps.Group(
            self.path, ctx.stale_seconds, self.definfo_sha256, events, ctx.events_file, ctx.restart, expect_kind=self.definfo_kind
        )


def view(host: Snapshot, verification: verify.Verification) -> dict[str, StoreView]:
    """Every store of the host, with its sets' verdicts, by name."""
    views = {}
    for name, store in host.stores.items():
        record = verification["active"].get(name, {"version": None, "status": "none"})
        sets = {s["version"]: s for s in verification["sets"] if s["store"] == name}
        views[name] = StoreView(store=store, sets=sets, active=record["version"], active_status=record["status"])
    return views
