"""Building the plans that install a set in a store: :func:`promote` (from a store of the host) and
:func:`import_set` (from a distribution point). A bad copy of the version is swapped out, never removed first."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import collection_events, plan_render, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_render import active_proof, reasons
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_steps import install_steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_types import Fetch, Plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_view import GOOD, Context, StoreView
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


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
    chosen = choose_source_set(src, version)
    downgrade = dst.active_status == GOOD and bool(dst.active) and versions.newer(str(dst.active), chosen)
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
    previous_good = next((v for v in reversed(dst.good()) if v != chosen and not versions.newer(v, chosen)), None)
    kept_good = [v for v in dst.good() if v != chosen][-(keep - 1) :] if keep > 1 else []
    keep_set = {chosen, *([previous_good] if previous_good else []), *kept_good}
    foreign = dst.foreign_sets()  # a set usage.dat gives another product is that product's to retire
    remove = sorted((v for v in dst.sets if v not in keep_set and v not in foreign), key=versions.sort_key)
    leftovers = dst.leftovers(ctx)
    installed_good = chosen in dst.sets and dst.sets[chosen]["status"] == GOOD
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

    body = install_steps(dst, copy, chosen, installed_good=installed_good, present=present, pointer=pointer, ctx=ctx)
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
    message += plan_render.usage_message(usage_content, chosen)
    return Plan(
        target,
        chosen,
        dst.active,
        message,
        [*opening, *body, *group.closing()],
        plan_render.diff(dst, content, added, remove, usage_content),
        {
            "removed": remove,
            "source": source,
            "replaced_in_place": replace_active,
            **plan_render.usage_extra(dst, usage_content),
            **({"downgrade": True} if downgrade else {}),
        },
        kind="promote",
    )


def choose_source_set(src: StoreView, version: str) -> str:
    if version == "newest_good":
        good = src.good()
        if not good:
            raise SmsmseError("NO_GOOD_SET", f"The {src.name} store holds no good set to promote.")
        return good[-1]
    if version not in src.sets:
        raise SmsmseError("VERSION_NOT_FOUND", f"The {src.name} store does not hold {version}.", path=src.path)
    record = src.sets[version]
    if record["status"] != GOOD:
        raise SmsmseError("SET_NOT_GOOD", f"{version} in {src.name} is {record['status']}: {reasons(record)}", path=src.folder(version))
    return version


def import_set(
    stores: Mapping[str, StoreView],
    *,
    store: str,
    version: str,
    manifest: Mapping[str, Mapping[str, object]],
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
    installed_good = version in dst.sets and dst.sets[version]["status"] == GOOD
    moves_pointer = not (dst.active_status == GOOD and dst.active and not versions.newer(version, dst.active))
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

    body = install_steps(dst, copy, version, installed_good=installed_good, present=present, pointer=pointer, ctx=ctx)
    if pointer is None:  # the store stays at a newer good set: the set's arrival under its name is the change
        first = next(s for s in body if s["op"] in ("rename", "exchange"))
        first["commit"] = True
    usage_content = dst.usage_after(version) if pointer is not None else None
    body += dst.usage_steps(usage_content, commit=False)  # as a promotion: usage.dat never names a missing or bad set
    after = dst.active if pointer is None else version
    events = [collection_events.event("promoted", version=version, store=store, path=dst.path, previous=dst.active)] if pointer else []
    group = dst.group(ctx, events)
    size = sum(_size(entry) for entry in manifest.values())
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
        plan_render.diff(dst, pointer, [] if installed_good else [version], [], usage_content),
        {"source": fetch.source, "imported": not installed_good, "bytes": 0 if installed_good else size},
        kind="import",
    )


def _size(entry: Mapping[str, object]) -> int:
    """A manifest entry's size (the trusted catalog's, a whole number of bytes)."""
    size = entry["size"]
    if not isinstance(size, (int, float, str)):
        raise SmsmseError("OPTION_INVALID", f"a manifest entry's size is {size!r}, not a number of bytes.")
    return int(size)
