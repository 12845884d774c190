"""Planning a change of one host: what defs_promote and defs_rollback will ask the agent to do.

Input is the hashing probe of the host and its verification; output is a plan
(the agent request, the diff, and what the result will say) or a reason why
nothing needs doing. Everything is decided here, on the controller; the agent
only carries the plan out under its lock, if the store is still as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import collection_events, facts, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import (
    CUR_DEFS,
    DEFDATES,
    LAST_DEFS,
    DefinfoError,
    new_definfo,
    parse_definfo,
    render_definfo,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

GOOD = "good"


@dataclass
class Plan:
    """A change to make (``request`` for ``op``), or none (``request`` is None) with the reason in ``message``."""

    store: str
    version: str | None
    previous: str | None
    message: str
    op: str | None = None
    request: dict[str, Any] | None = None
    diff: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        return self.request is not None


@dataclass(frozen=True)
class StoreView:
    """One store as probe and verification saw it."""

    name: str
    entry: Mapping[str, Any]
    sets: dict[str, Mapping[str, Any]]  # version -> verification record
    active: str | None
    active_status: str
    windows: bool

    @property
    def path(self) -> str:
        return str(self.entry["path"])

    def good(self) -> list[str]:
        return sorted((v for v, s in self.sets.items() if s["status"] == GOOD), key=versions.parse_version)

    def manifest(self, version: str) -> dict[str, dict[str, Any]]:
        folder = next(d for d in self.entry["dirs"] if d["name"] == version)
        return {f["path"]: {"size": f["size"], "sha256": f["sha256"]} for f in folder["files"]}

    def folder(self, version: str) -> str:
        return facts.join(self.windows, self.path, version)

    def definfo_bytes(self) -> bytes | None:
        record = self.entry["definfo"]
        return base64.b64decode(record["content_b64"]) if record.get("content_b64") else None

    def render_pointer(self, version: str, previous: str | None) -> bytes:
        """``definfo.dat`` naming ``version``: the current file with CurDefs (and LastDefs, if kept) changed."""
        current = self.definfo_bytes()
        try:
            info = parse_definfo(current) if current is not None else None
        except DefinfoError:
            info = None
        if info is None:
            return render_definfo(new_definfo(version))
        changed = info.with_value(DEFDATES, CUR_DEFS, version)
        if previous and info.get(DEFDATES, LAST_DEFS) is not None and previous != version:
            changed = changed.with_value(DEFDATES, LAST_DEFS, previous)
        return render_definfo(changed)

    def expect(self) -> dict[str, Any]:
        return {"definfo_sha256": self.entry["definfo"]["sha256"], "active": self.active}


def view(reply: Mapping[str, Any], verification: Mapping[str, Any], overrides: Mapping[str, str | None]) -> dict[str, StoreView]:
    """Every store of the host, with its sets' verdicts, by name."""
    views = {}
    windows = reply["host"]["os"] == "windows"
    for name, entry in facts.select_stores(reply, overrides).items():
        record = verification["active"].get(name, {"version": None, "status": "none"})
        sets = {s["version"]: s for s in verification["sets"] if s["store"] == name}
        views[name] = StoreView(
            name=name, entry=entry, sets=sets, active=record["version"], active_status=record["status"], windows=windows
        )
    return views


def _diff(store: StoreView, after_definfo: bytes, added: list[str], removed: list[str]) -> dict[str, str]:
    before_sets = sorted(store.sets)
    after_sets = sorted((set(before_sets) | set(added)) - set(removed))
    current = store.definfo_bytes() or b""
    return {
        "before_header": f"{store.path} ({store.name})",
        "after_header": f"{store.path} ({store.name})",
        "before": current.decode("utf-8", "replace").replace("\r\n", "\n") + "".join(f"set {v}\n" for v in before_sets),
        "after": after_definfo.decode("utf-8", "replace").replace("\r\n", "\n") + "".join(f"set {v}\n" for v in after_sets),
    }


def _newer(a: str, b: str | None) -> bool:
    return b is None or not versions.is_version(b) or versions.parse_version(a) > versions.parse_version(b)


# --- promote ---


def promote(
    stores: Mapping[str, StoreView],
    *,
    target: str,
    source: str | None,
    version: str,
    keep: int,
    common: Mapping[str, Any],
) -> Plan:
    """Plan installing the chosen set of the source store into the target store."""
    if target not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The target store {target} does not exist on this host.")
    if source is None:
        source = next((name for name in ("hawking", "smsmse_hawking") if name in stores), None)
        if source is None:
            raise SmsmseError(
                "STORE_NOT_FOUND",
                "Neither a Hawking nor an SMSMSE Hawking store exists here to promote from; set `source` or `source_path`.",
            )
    elif source not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The source store {source} does not exist on this host.")
    if source == target:
        raise SmsmseError("OPTION_INVALID", "`source` and `target` are the same store.")
    src, dst = stores[source], stores[target]
    chosen = _choose_source_set(src, version)
    if dst.active_status == GOOD and dst.active and _newer(dst.active, chosen):
        if version == "newest_good":
            return Plan(
                target, dst.active, dst.active, f"{target} is at {dst.active}, newer than the newest good set of {source} ({chosen})."
            )
        raise SmsmseError(
            "DOWNGRADE_REFUSED",
            f"{target} is at the good set {dst.active}; {chosen} is older. Promotion never goes down: use defs_rollback.",
        )
    previous_good = next((v for v in reversed(dst.good()) if v != chosen and not _newer(v, chosen)), None)
    protect = {chosen} | ({previous_good} if previous_good else set())
    kept_good = [v for v in dst.good() if v != chosen][-(keep - 1) :] if keep > 1 else []
    keep_set = protect | set(kept_good)
    remove = sorted((v for v in dst.sets if v not in keep_set), key=versions.parse_version)
    leftovers = [d["name"] for d in dst.entry["dirs"] if d["name"].startswith((facts.STAGING_PREFIX, ".smsmse-trash-"))]
    installed_good = chosen in dst.sets and dst.sets[chosen]["status"] == GOOD
    if dst.active == chosen and dst.active_status == GOOD and not remove and not leftovers:
        return Plan(target, chosen, chosen, f"{target} is at {chosen}, the newest good set; nothing to do.")
    content = dst.render_pointer(chosen, dst.active)
    fallback = None
    if chosen in dst.sets and not installed_good and dst.active == chosen:
        stand_in = next((v for v in reversed(dst.good()) if v != chosen), None)
        fallback = base64.b64encode(dst.render_pointer(stand_in, None)).decode() if stand_in else None
    events = (
        []
        if dst.active == chosen
        else [collection_events.event("promoted", version=chosen, store=target, path=dst.path, previous=dst.active)]
    )
    request = {
        "store": dst.path,
        "source": src.folder(chosen),
        "version": chosen,
        "manifest": src.manifest(chosen),
        "expect": dst.expect(),
        "definfo_b64": base64.b64encode(content).decode(),
        "fallback_definfo_b64": fallback,
        "remove": remove,
        "protect": sorted(protect),
        **common,
        "events": events,
    }
    added = [] if installed_good else [chosen]
    message = (
        f"{target}: {dst.active or 'nothing'} -> {chosen} from {source}"
        if dst.active != chosen
        else f"{target} stays at {chosen}; cleaned up"
    )
    return Plan(
        target,
        chosen,
        dst.active,
        message,
        "install_set",
        request,
        _diff(dst, content, added, remove),
        {"removed": remove, "source": source},
    )


def _choose_source_set(src: StoreView, version: str) -> str:
    if version == "newest_good":
        good = src.good()
        if not good:
            raise SmsmseError("NO_GOOD_SET", f"The {src.name} store holds no good set to promote.")
        return good[-1]
    if version not in src.sets:
        raise SmsmseError("VERSION_NOT_FOUND", f"The {src.name} store does not hold {version}.", path=src.path)
    record = src.sets[version]
    if record["status"] != GOOD:
        reasons = "; ".join(e["message"] for e in record["errors"][:3]) or record["status"]
        raise SmsmseError("SET_NOT_GOOD", f"{version} in {src.name} is {record['status']}: {reasons}", path=src.folder(version))
    return version


# --- rollback ---


def rollback(
    stores: Mapping[str, StoreView], *, store: str, to: str, quarantine: bool, quarantine_dir: str | None, common: Mapping[str, Any]
) -> Plan:
    """Plan pointing ``store`` back at a good set."""
    if store not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The store {store} does not exist on this host.")
    view_ = stores[store]
    good = view_.good()
    if to == "previous_good":
        if view_.active_status == GOOD:
            return Plan(
                store,
                view_.active,
                view_.active,
                f"The active set {view_.active} of {store} is good; nothing to roll back (set `to` to force a version).",
            )
        older = [v for v in good if view_.active is None or not _newer(v, view_.active)]
        if not older:
            raise SmsmseError("NO_GOOD_SET", f"The {store} store holds no good set to roll back to.", path=view_.path)
        target = older[-1]
    else:
        if to not in view_.sets:
            raise SmsmseError("VERSION_NOT_FOUND", f"The {store} store does not hold {to}.", path=view_.path)
        if view_.sets[to]["status"] != GOOD:
            reasons = "; ".join(e["message"] for e in view_.sets[to]["errors"][:3]) or view_.sets[to]["status"]
            raise SmsmseError("SET_NOT_GOOD", f"{to} in {store} is {view_.sets[to]['status']}: {reasons}", path=view_.folder(to))
        target = to
    bad_active = view_.active if view_.active in view_.sets and view_.active_status != GOOD and view_.active != target else None
    quarantined = [bad_active] if quarantine and bad_active else []
    if view_.active == target and not quarantined:
        return Plan(store, target, target, f"{store} already points at {target}.")
    newest = good[-1]
    downgrade = _newer(newest, target)
    content = view_.render_pointer(target, view_.active)
    values = {
        "version": target,
        "store": store,
        "path": view_.path,
        "previous": view_.active,
        "newest": newest,
        "quarantined": ", ".join(quarantined),
    }
    events = [collection_events.event("downgraded" if downgrade else "rolled_back", **values)]
    if quarantined:
        events.append(collection_events.event("quarantined", **values))
    request = {
        "store": view_.path,
        "version": target,
        "manifest": view_.manifest(target),
        "expect": view_.expect(),
        "definfo_b64": base64.b64encode(content).decode(),
        "quarantine": quarantined,
        "quarantine_dir": quarantine_dir or _default_quarantine(view_),
        **common,
        "events": events,
    }
    message = f"{store}: {view_.active or 'nothing'} -> {target}" + (" (a downgrade below the newest good set)" if downgrade else "")
    return Plan(
        store, target, view_.active, message, "set_pointer", request, _diff(view_, content, [], quarantined), {"downgrade": downgrade}
    )


def _default_quarantine(store: StoreView) -> str:
    """Beside the store, on the same volume (so a set moves there by rename): ``<parent>/mailsec-smsmse-quarantine``."""
    separator = "\\" if store.windows else "/"
    parent = store.path.rstrip("\\/").rsplit(separator, 1)[0]
    return f"{parent}{separator}mailsec-smsmse-quarantine"
