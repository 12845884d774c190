"""Planning a change of one host: the steps defs_promote, defs_rollback and the role ask the agent to run.

Input is the hashing probe of the host and its verification; output is a plan
(the primitive steps, the diff, and what the result will say) or a reason why
nothing needs doing. Everything is decided here, on the controller; the agent
only carries the steps out under the store's lock, if the store is still as it
was (see docs/changes.md).

Three kinds of change, each one group of steps on one store:

- :func:`promote` installs a good set into a store (CSAPI by default). A bad
  copy of the same version is replaced by swapping it with the good copy
  (``exchange``), then retiring what the swap left in the staging folder, so
  that the version's name never lacks a folder (the product may point at it
  at any moment, even when we do not).
- :func:`rollback` points a store at a good set it holds, and can quarantine
  every bad set of the store.
- :func:`repair_source` keeps the product's own copy job away from a bad set:
  in a source store, every bad set newer than the newest good one is
  quarantined and the store's pointer goes back to that good set.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import collection_events, decide, steps, usage, verify, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import (
    DefinfoError,
    decode,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.snapshot import DEFINFO, SOURCE_STORES, USAGE
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.store_view import BAD, GOOD, Context, StoreView

SOURCES = SOURCE_STORES
#: the kinds of change a plan makes (each builder below names its own)
PlanKind = Literal["promote", "import", "rollback", "repair_usage", "repair_source"]


@dataclass
class Plan:
    """A change to make (``steps``), or none (no steps) with the reason in ``message``."""

    store: str
    version: str | None
    previous: str | None
    message: str
    steps: list[steps.Step] = field(default_factory=list)
    diff: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: what the change is: its action in the role's report
    kind: PlanKind = field(default="promote", kw_only=True)

    def __post_init__(self) -> None:
        self.steps = steps.arrange(self.steps)  # the order the agent runs them: what diff, check mode and the reply show

    @property
    def changes(self) -> bool:
        return bool(self.steps)


def _newer(a: str, b: str | None) -> bool:
    return versions.newer(a, b)


def _diff(
    store: StoreView, after_definfo: bytes | None, added: Sequence[str], removed: Sequence[str], after_usage: bytes | None = None
) -> list[dict[str, str]]:
    """What ``--diff`` shows: ``definfo.dat`` (and ``usage.dat``) as it is and as it will be (when it changes), and the store's sets."""
    shown = []
    current = store.definfo_bytes()
    if after_definfo is not None and after_definfo != current:
        where = store.store.folder(DEFINFO)
        shown.append(
            {
                "before_header": where,
                "after_header": where,
                "before": _definfo_text(current or b""),
                "after": _definfo_text(after_definfo),
            }
        )
    if after_usage is not None and store.store.usage is not None:
        where = store.store.folder(USAGE)
        before = _definfo_text(store.store.usage.content or b"")
        shown.append({"before_header": where, "after_header": where, "before": before, "after": _definfo_text(after_usage)})
    if added or removed:
        before_sets = sorted(store.sets)
        after_sets = sorted((set(before_sets) | set(added)) - set(removed))
        shown.append(
            {
                "before_header": f"{store.path} (sets of {store.name})",
                "after_header": f"{store.path} (sets of {store.name})",
                "before": "".join(f"{v}\n" for v in before_sets),
                "after": "".join(f"{v}\n" for v in after_sets),
            }
        )
    return shown


def _definfo_text(data: bytes) -> str:
    """definfo.dat as text for a diff, in the file's own encoding (UTF-16 files exist on Windows); damaged bytes replaced."""
    try:
        text = decode(data)[0]
    except DefinfoError:
        text = data.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


def _reasons(record: Mapping[str, Any]) -> str:
    return "; ".join(e["message"] for e in record["errors"][:3]) or str(record["status"])


# --- which source ---


# --- promote ---


def promote(
    stores: Mapping[str, StoreView],
    *,
    target: str,
    source: str | None,
    version: str,
    keep: int,
    ctx: Context,
    allow_downgrade: bool = False,
) -> Plan:
    """Plan installing the chosen good set of the source store into the target store.

    A version older than the target's good active set is refused, unless ``allow_downgrade``: then it is installed
    and recorded as a downgrade (the result's ``downgrade``, the collection's event 1002).
    """
    if target not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The target store {target} does not exist on this host.")
    if source is None:
        source = decide.choose_source({k: v for k, v in stores.items() if k != target})
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
    downgrade = dst.active_status == GOOD and bool(dst.active) and _newer(str(dst.active), chosen)
    if downgrade and version == "newest_good":
        return Plan(
            target,
            dst.active,
            dst.active,
            f"{target} is at {dst.active}, newer than the newest good set of {source} ({chosen}).",
            kind="promote",
        )
    if downgrade and not allow_downgrade:
        held = "defs_rollback with `to`, or " if chosen in dst.sets else ""
        raise SmsmseError(
            "DOWNGRADE_REFUSED",
            f"{target} is at the good set {dst.active}; {chosen} is older. Promotion never goes down unless asked: use "
            f"{held}defs_promote with `allow_downgrade: true` (recorded as a downgrade).",
        )
    previous_good = next((v for v in reversed(dst.good()) if v != chosen and not _newer(v, chosen)), None)
    kept_good = [v for v in dst.good() if v != chosen][-(keep - 1) :] if keep > 1 else []
    keep_set = {chosen, *([previous_good] if previous_good else []), *kept_good}
    foreign = dst.foreign_sets()  # a set usage.dat gives another product is that product's to retire
    remove = sorted((v for v in dst.sets if v not in keep_set and v not in foreign), key=versions.sort_key)
    leftovers = dst.leftovers(ctx)
    installed_good = dst.sets.get(chosen, {}).get("status") == GOOD
    content = dst.render_pointer(chosen, dst.active, removed=remove)
    usage_content = dst.usage_after(chosen, remove)
    if dst.active == chosen and installed_good and not remove and not leftovers and usage_content is None:
        return Plan(
            target,
            chosen,
            chosen,
            f"{target} is at {chosen}, the newest good set{verify.unproven(dst.sets[chosen])}; nothing to do.",
            extra={"proof": active_proof(dst)},
            kind="promote",
        )
    newest = dst.good()[-1] if dst.good() else chosen
    kind = "downgraded" if downgrade else "promoted"
    events = (
        [collection_events.event(kind, version=chosen, store=target, path=dst.path, previous=dst.active, newest=newest)]
        if dst.active != chosen or not installed_good
        else []
    )
    group = dst.group(ctx, events)
    present = chosen in dst.sets or dst.aside(ctx, chosen)  # an aside: clean puts it back under this name first
    replace_active = not installed_good and present and dst.active == chosen
    pointer = content if dst.pointer_changes(content) else None

    def copy(staging: str) -> steps.Step:
        return steps.step("stage", dst.path, source=src.folder(chosen), name=staging, manifest=src.manifest(chosen))

    body = _install_steps(dst, copy, chosen, installed_good=installed_good, present=present, pointer=pointer, ctx=ctx)
    body += dst.usage_steps(usage_content, commit=False)  # before a set is retired: usage.dat never names a missing set
    body += [steps.step("retire", dst.path, required=False, name=v) for v in remove]
    # nothing the scanner uses changes when no step commits: the reply's removals then say whether the store changed
    # (retiring a set is a change; removing our own leftovers is not), see outcome._verdict
    opening = group.opening(
        pointer_writable=pointer is not None,
        free_bytes=0 if installed_good else src.size(chosen),
        not_in_use=[chosen] if replace_active else [],
    )
    added = [] if installed_good else [chosen]
    if dst.active != chosen:
        message = f"{target}: {dst.active or 'nothing'} -> {chosen} from {source}" + (
            " (a downgrade below the newest good set)" if downgrade else ""
        )
    elif replace_active:
        message = f"{target}: the bad active set {chosen} replaced in place by the good copy from {source}"
    else:
        message = f"{target} stays at {chosen}; cleaned up"
    message += _usage_message(usage_content, chosen)
    return Plan(
        target,
        chosen,
        dst.active,
        message,
        [*opening, *body, *group.closing()],
        _diff(dst, content, added, remove, usage_content),
        {
            "removed": remove,
            "source": source,
            "replaced_in_place": replace_active,
            **_usage_extra(dst, usage_content),
            **({"downgrade": True} if downgrade else {}),
        },
        kind="promote",
    )


def _install_steps(
    dst: StoreView,
    copy: Callable[[str], steps.Step],
    chosen: str,
    *,
    installed_good: bool,
    present: bool,
    pointer: bytes | None,
    ctx: Context,
) -> list[steps.Step]:
    """Copy the set in (``copy``: its step into a staging folder, unless a good copy is there), swap or rename it into
    place, then switch the pointer.

    A bad copy of ``chosen`` is swapped with the good one, never removed first: the
    product may point at that name at any moment (its own copy job), and the name
    then always holds a whole folder. When the pointer already names it, the swap
    is the commit point.
    """
    if installed_good:
        matches = steps.step("matches", dst.path, name=chosen, manifest=dst.manifest(chosen))
        return [matches, *_pointer_steps(dst, pointer, ctx, commit=True)]
    staging = f"{ctx.staging_prefix}{chosen}-{ctx.token()}"
    body = [copy(staging)]  # stage (from a store) or fetch (from a distribution point) into the staging folder
    if not present:
        names: dict[str, Any] = {"from": staging, "to": chosen}
        return [*body, steps.step("rename", dst.path, **names), *_pointer_steps(dst, pointer, ctx, commit=True)]
    active = dst.active == chosen
    # compare-and-swap: b must still hold the bad copy this plan read (a second run finds the good one there: conflict)
    expect_b = _expected_copy(dst, chosen)
    body.append(steps.step("exchange", dst.path, commit=active, a=staging, b=chosen, expect_b=expect_b))
    body += _pointer_steps(dst, pointer, ctx, commit=not active)
    body.append(steps.step("retire", dst.path, required=False, name=staging))  # the bad copy, now in the staging folder
    return body


def _expected_copy(view_: StoreView, version: str) -> dict[str, dict[str, Any]] | None:
    """What the folder of ``version`` held when read (size and digest per file, a digest None where it was unreadable),
    for the exchange's compare-and-swap; None when it was not listed whole (then only its presence is checked)."""
    folder = view_.store.set(version)
    if folder is None or folder.truncated or folder.link or folder.error is not None or folder.escaped:
        return None
    if not folder.files or any(f.escaped or f.link for f in folder.files):
        return None
    return {f.path: {"size": f.size, "sha256": f.sha256} for f in folder.files}


def _pointer_steps(
    view_: StoreView, content: bytes | None, ctx: Context, *, commit: bool, quarantine_dir: str | None = None
) -> list[steps.Step]:
    """Replace ``definfo.dat`` with ``content`` (none when None), expecting what the probe's lstat saw there.

    A link is replaced itself, never written through. A folder named definfo.dat is
    moved out of the store first (quarantined, never deleted: it is not ours), so
    that the file can take its name.
    """
    if content is None:
        return []
    found = []
    kind = view_.definfo_kind
    if kind == "dir":
        found.append(
            steps.step(
                "quarantine",
                view_.path,
                name=DEFINFO,
                dest_dir=quarantine_dir or _default_quarantine(view_),
                dest_name=f"{_quarantine_base(view_)}-{DEFINFO}-{ctx.token()}",
            )
        )
        kind = "absent"
    found.append(steps.write_pointer(view_.path, content, view_.definfo_sha256 if kind == "file" else None, kind, commit=commit))
    return found


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
        raise SmsmseError("SET_NOT_GOOD", f"{version} in {src.name} is {record['status']}: {_reasons(record)}", path=src.folder(version))
    return version


# --- import from a distribution point ---


@dataclass(frozen=True)
class Fetch:
    """Where and how the host fetches a set: the set's folder on the distribution point, and the transfer options."""

    source: str
    timeout_seconds: int
    deadline_seconds: int
    validate_certs: bool
    ca_path: str | None
    #: Windows hosts: the proxy to fetch through; None: the system proxy (the POSIX agent connects directly)
    proxy: str | None = None


def import_set(
    stores: Mapping[str, StoreView],
    *,
    store: str,
    version: str,
    manifest: Mapping[str, Mapping[str, Any]],
    fetch: Fetch,
    ctx: Context,
    copy_of: str | None = None,
) -> Plan:
    """Plan bringing ``version`` (``manifest``: the trusted catalog's entry) from a distribution point into ``store``.

    The host fetches the set into a staging folder, checked file by file; then it goes in as any promotion does:
    renamed into place (a bad copy of the version is swapped out and retired), and the pointer switched when the
    store's active set is older, not good, or missing. A good copy already there changes nothing but the pointer.
    With ``copy_of`` (the folder an earlier group of the same request fetched the set into), the set is copied from
    there (``stage``, checked against the same manifest) instead of fetched again.
    """
    if store not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The store {store} does not exist on this host.")
    dst = stores[store]
    installed_good = dst.sets.get(version, {}).get("status") == GOOD
    moves_pointer = not (dst.active_status == GOOD and dst.active and not _newer(version, dst.active))
    content = dst.render_pointer(version, dst.active) if moves_pointer else None
    pointer = content if content is not None and dst.pointer_changes(content) else None
    if installed_good and pointer is None:
        return Plan(
            store,
            version,
            dst.active,
            f"{store} holds the good set {version}; nothing to import.",
            extra={"source": fetch.source},
            kind="import",
        )
    present = version in dst.sets or dst.aside(ctx, version)

    def copy(staging: str) -> steps.Step:
        if copy_of is not None:
            return steps.step("stage", dst.path, source=copy_of, name=staging, manifest={rel: dict(e) for rel, e in manifest.items()})
        fetching = steps.step(
            "fetch",
            dst.path,
            source=fetch.source,
            name=staging,
            manifest={rel: dict(entry) for rel, entry in manifest.items()},
            timeout_seconds=fetch.timeout_seconds,
            deadline_seconds=fetch.deadline_seconds,
            validate_certs=fetch.validate_certs,
            ca_path=fetch.ca_path,
        )
        if fetch.proxy is not None:  # Windows hosts only (distpoint.check_proxy): absent, the system proxy
            fetching["args"]["proxy"] = fetch.proxy
        return fetching

    body = _install_steps(dst, copy, version, installed_good=installed_good, present=present, pointer=pointer, ctx=ctx)
    if pointer is None:  # the store stays at a newer good set: the set's arrival under its name is the change
        first = next(s for s in body if s["op"] in ("rename", "exchange"))
        first["commit"] = True
    usage_content = dst.usage_after(version) if pointer is not None else None
    body += dst.usage_steps(usage_content, commit=False)  # as a promotion: usage.dat never names a missing or bad set
    after = dst.active if pointer is None else version
    events = [collection_events.event("promoted", version=version, store=store, path=dst.path, previous=dst.active)] if pointer else []
    group = dst.group(ctx, events)
    size = sum(int(entry["size"]) for entry in manifest.values())
    opening = group.opening(pointer_writable=pointer is not None, free_bytes=0 if installed_good else size)
    if installed_good:
        message = f"{store}: {dst.active or 'nothing'} -> {version} (the good copy it holds)"
    elif pointer:
        message = f"{store}: imported {version} from {fetch.source}; {dst.active or 'nothing'} -> {version}"
    else:
        message = f"{store}: imported {version} from {fetch.source} (the store stays at the newer good set {dst.active})"
    return Plan(
        store,
        after,
        dst.active,
        message,
        [*opening, *body, *group.closing()],
        _diff(dst, pointer, [] if installed_good else [version], [], usage_content),
        {"source": fetch.source, "imported": not installed_good, "bytes": 0 if installed_good else size},
        kind="import",
    )


# --- rollback ---


def rollback(stores: Mapping[str, StoreView], *, store: str, to: str, quarantine: bool, quarantine_dir: str | None, ctx: Context) -> Plan:
    """Plan pointing ``store`` back at a good set, and (with ``quarantine``) moving every bad set out of it."""
    if store not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The store {store} does not exist on this host.")
    view_ = stores[store]
    good = view_.good()
    target = _rollback_target(view_, to)
    if target is None:
        return Plan(
            store,
            view_.active,
            view_.active,
            _nothing_to_roll_back(view_),
            extra={"rolled_back": False, "proof": active_proof(view_)},
            kind="rollback",
        )
    quarantined = [v for v in view_.with_status(BAD) if v != target] if quarantine else []
    _check_quarantine_dir(quarantine_dir, view_)
    content = view_.render_pointer(target, view_.active, removed=quarantined)
    moves_pointer = view_.active != target or view_.pointer_changes(content)
    usage_content = view_.usage_after(target, quarantined)
    if not moves_pointer and not quarantined and usage_content is None:
        message = _nothing_to_roll_back(view_) if to == "previous_good" else f"{store} already points at {target}."
        return Plan(store, target, target, message, extra={"rolled_back": False, "proof": active_proof(view_)}, kind="rollback")
    downgrade = bool(good) and _newer(good[-1], target)
    values = {
        "version": target,
        "store": store,
        "path": view_.path,
        "previous": view_.active,
        "newest": good[-1] if good else target,
        "quarantined": ", ".join(quarantined),
    }
    events = [collection_events.event("downgraded" if downgrade else "rolled_back", **values)] if moves_pointer else []
    if quarantined:
        events.append(collection_events.event("quarantined", **values))
    destination = quarantine_dir or _default_quarantine(view_)
    change = _repoint(
        view_,
        target,
        content if moves_pointer else None,
        quarantined=quarantined,
        destination=destination,
        events=events,
        ctx=ctx,
        usage_content=usage_content,
    )
    if moves_pointer:
        message = f"{store}: {view_.active or 'nothing'} -> {target}" + (" (a downgrade below the newest good set)" if downgrade else "")
    else:
        message = f"{store} stays at {target}"
    if quarantined:
        message += f"; quarantined {', '.join(quarantined)}"
    message += _usage_message(usage_content, target)
    return Plan(
        store,
        target,
        view_.active,
        message,
        change,
        _diff(view_, content if moves_pointer else None, [], quarantined, usage_content),
        {"downgrade": downgrade, "rolled_back": moves_pointer, "quarantine_dir": destination, **_usage_extra(view_, usage_content)},
        kind="rollback",
    )


def _usage_message(content: bytes | None, target: str) -> str:
    return f"; usage.dat: the product codes of missing or bad sets moved under {target}" if content is not None else ""


def _usage_extra(view_: StoreView, content: bytes | None) -> dict[str, Any]:
    """The plan's ``usage`` (store -> set -> product codes once done), for the report's prediction of the checks."""
    return {"usage": {view_.name: usage.parse(content).sets()}} if content is not None else {}


def repair_usage(stores: Mapping[str, StoreView], *, store: str, ctx: Context) -> Plan | None:
    """Plan moving the product codes usage.dat gives missing or bad sets under the store's active good set (else its newest
    good set), in one compare-and-swap rewrite of usage.dat. None when there is nothing to move or no good set to move to."""
    view_ = stores.get(store)
    if view_ is None:
        return None
    good = view_.good()
    target = view_.active if view_.active_status == GOOD and view_.active else (good[-1] if good else None)
    if target is None:
        return None
    content = view_.usage_after(target)
    if content is None:
        return None
    group = view_.group(ctx, [])
    body = [steps.step("matches", view_.path, name=target, manifest=view_.manifest(target)), *view_.usage_steps(content, commit=True)]
    return Plan(
        store,
        target,
        view_.active,
        f"{store}: usage.dat named missing or bad sets; their product codes moved under {target}",
        [*group.opening(), *body, *group.closing()],
        _diff(view_, None, [], [], content),
        {"usage_repaired": True, **_usage_extra(view_, content)},
        kind="repair_usage",
    )


def _rollback_target(view_: StoreView, to: str) -> str | None:
    """The set to point at; None when ``previous_good`` finds the active set good, or nothing older to go back to."""
    good = view_.good()
    if to != "previous_good":
        if to not in view_.sets:
            raise SmsmseError(
                "VERSION_NOT_FOUND",
                f"The {view_.name} store does not hold {to}; to go down to a version only a source store holds, use "
                "defs_promote with `version` and `allow_downgrade: true` (recorded as a downgrade).",
                path=view_.path,
            )
        if view_.sets[to]["status"] != GOOD:
            raise SmsmseError(
                "SET_NOT_GOOD", f"{to} in {view_.name} is {view_.sets[to]['status']}: {_reasons(view_.sets[to])}", path=view_.folder(to)
            )
        return to
    if view_.active_status == GOOD:
        return view_.active
    older = [v for v in good if view_.active is None or not versions.is_version(view_.active) or not _newer(v, view_.active)]
    return older[-1] if older else None


def active_proof(view_: StoreView) -> str:
    """What proved the active set's verdict (``structure`` when the store points at no set)."""
    record = view_.sets.get(view_.active) if view_.active else None
    return str(record.get("proof") or verify.STRUCTURE) if record else verify.STRUCTURE


def _nothing_to_roll_back(view_: StoreView) -> str:
    if view_.active_status == GOOD and active_proof(view_) == verify.STRUCTURE:
        return (
            f"The active set {view_.active} of {view_.name} is {verify.GOOD_BY[verify.STRUCTURE]}; nothing to roll back on that "
            "evidence. Give a signed catalog (catalog, trusted_keys) or the fleet's consensus marks (bad_sets) to prove it "
            "(set `to` to force a version)."
        )
    if view_.active_status == GOOD:
        return (
            f"The active set {view_.active} of {view_.name} is {verify.GOOD_BY[active_proof(view_)]}; nothing to roll back "
            "(set `to` to force a version)."
        )
    good = view_.good()
    if good:
        return (
            f"The active set {view_.active} of {view_.name} is {view_.active_status}, and no good set older than it is in the store; "
            f"defs_promote replaces it with the newest good set ({good[-1]})."
        )
    return (
        f"The active set {view_.active} of {view_.name} is {view_.active_status}, and the store holds no good set to roll back to; "
        "defs_promote can bring one from a source store, or run LiveUpdate (the defs_health role does both)."
    )


def _repoint(
    view_: StoreView,
    target: str,
    content: bytes | None,
    *,
    quarantined: Sequence[str],
    destination: str,
    events: Sequence[Mapping[str, Any]],
    ctx: Context,
    usage_content: bytes | None = None,
) -> list[steps.Step]:
    """Every step of pointing a store at a set it holds and moving sets out of it (rollback and source repair alike).

    The set pointed at is checked once more (``matches``); the pointer is written
    when ``content`` is given (the commit point), then ``usage.dat`` when
    ``usage_content`` is given (the commit point when the pointer stays), else the
    first quarantine is.
    """
    body = [steps.step("matches", view_.path, name=target, manifest=view_.manifest(target))]
    body += _pointer_steps(view_, content, ctx, commit=True, quarantine_dir=destination)
    body += view_.usage_steps(usage_content, commit=content is None)  # before a set leaves: usage.dat never names a missing set
    body += _quarantine_steps(view_, quarantined, destination, commit=content is None and usage_content is None, ctx=ctx)
    group = view_.group(ctx, events)
    return [*group.opening(pointer_writable=content is not None), *body, *group.closing()]


def _quarantine_base(view_: StoreView) -> str:
    """The start of a quarantined folder's name: the store folder's own name, safe as one path component."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", view_.path.rstrip("\\/").replace("\\", "/").rsplit("/", 1)[-1]) or view_.name


def _quarantine_steps(view_: StoreView, names: Sequence[str], destination: str, *, commit: bool, ctx: Context) -> list[steps.Step]:
    base = _quarantine_base(view_)
    found = []
    for index, name in enumerate(names):
        found.append(
            steps.step(
                "quarantine",
                view_.path,
                commit=commit and index == 0,
                name=name,
                dest_dir=destination,
                dest_name=f"{base}-{name}-{ctx.token()}",
            )
        )
    return found


def _check_quarantine_dir(quarantine_dir: str | None, store: StoreView) -> None:
    """OPTION_INVALID for a quarantine folder that is not a full path on the host (it would land in the agent's working folder)."""
    if quarantine_dir is None:
        return
    full = ntpath.isabs(quarantine_dir) and bool(ntpath.splitdrive(quarantine_dir)[0]) if store.windows else posixpath.isabs(quarantine_dir)
    if not full:
        example = "D:\\Quarantine\\smsmse" if store.windows else "/var/lib/mailsec-smsmse/quarantine"
        raise SmsmseError("OPTION_INVALID", f"`quarantine_dir` is '{quarantine_dir}': give a full path on the host, for example {example}.")


def _default_quarantine(store: StoreView) -> str:
    """Beside the store, on the same volume (so a set moves there by rename): ``<parent>/mailsec-smsmse-quarantine``."""
    separator = "\\" if store.windows else "/"
    parent = store.path.rstrip("\\/").rsplit(separator, 1)[0]
    return f"{parent}{separator}mailsec-smsmse-quarantine"


# --- the product's copy job ---


def repair_source(stores: Mapping[str, StoreView], *, store: str, quarantine_dir: str | None, ctx: Context) -> Plan | None:
    """Plan moving the bad sets newer than the newest good one out of a source store, and pointing it at that good set.

    None when the store holds no such set, or no good set to point at (then only LiveUpdate helps).
    """
    view_ = stores.get(store)
    if view_ is None:
        return None
    risky = decide.source_risk(view_)
    if not risky:
        return None
    target = view_.good()[-1]
    _check_quarantine_dir(quarantine_dir, view_)
    content = view_.render_pointer(target, view_.active, removed=risky)
    # a pointer already at the target is rewritten only when its LastDefs names a set this repair moves out (which the
    # agent never removes while a pointer names it)
    moves_pointer = view_.pointer_changes(content) and (view_.active != target or view_.store.pointer.last in risky)
    values = {
        "version": target,
        "store": store,
        "path": view_.path,
        "previous": view_.active,
        "newest": target,
        "quarantined": ", ".join(risky),
    }
    events = [collection_events.event("quarantined", **values)]
    if moves_pointer:
        events.insert(0, collection_events.event("rolled_back", **values))
    destination = quarantine_dir or _default_quarantine(view_)
    usage_content = view_.usage_after(target, risky)
    change = _repoint(
        view_,
        target,
        content if moves_pointer else None,
        quarantined=risky,
        destination=destination,
        events=events,
        ctx=ctx,
        usage_content=usage_content,
    )
    message = f"{store}: quarantined {', '.join(risky)} (not good), which the product would copy next" + (
        f"; {view_.active or 'nothing'} -> {target}" if moves_pointer else ""
    )
    message += _usage_message(usage_content, target)
    return Plan(
        store,
        target,
        view_.active,
        message,
        change,
        _diff(view_, content if moves_pointer else None, [], risky, usage_content),
        {"quarantined_sets": risky, "quarantine_dir": destination, **_usage_extra(view_, usage_content)},
        kind="repair_source",
    )
