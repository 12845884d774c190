"""Building the plans that point a store at a set it holds: :func:`rollback`, :func:`repair_usage` (usage.dat's
product codes moved to a good set) and :func:`repair_source` (the bad sets the product's copy job would take next)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import collection_events, plan_render, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_render import active_proof, reasons
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_steps import check_quarantine_dir, default_quarantine, repoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change.plan_types import Plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_view import BAD, GOOD, Context, StoreView
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def rollback(stores: Mapping[str, StoreView], *, store: str, to: str, quarantine: bool, quarantine_dir: str | None, ctx: Context) -> Plan:
    """Plan pointing ``store`` back at a good set, and (with ``quarantine``) moving every bad set out of it."""
    if store not in stores:
        raise SmsmseError("STORE_NOT_FOUND", f"The store {store} does not exist on this host.")
    view_ = stores[store]
    good = view_.good()
    target = rollback_target(view_, to)
    if target is None:
        return Plan(
            store,
            view_.active,
            view_.active,
            nothing_to_roll_back(view_),
            extra={"rolled_back": False, "proof": active_proof(view_)},
            kind="rollback",
        )
    quarantined = [v for v in view_.with_status(BAD) if v != target] if quarantine else []
    check_quarantine_dir(quarantine_dir, view_)
    content = view_.render_pointer(target, view_.active, removed=quarantined)
    moves_pointer = view_.active != target or view_.pointer_changes(content)
    usage_content = view_.usage_after(target, quarantined)
    if not moves_pointer and not quarantined and usage_content is None:
        message = nothing_to_roll_back(view_) if to == "previous_good" else f"{store} already points at {target}."
        return Plan(store, target, target, message, extra={"rolled_back": False, "proof": active_proof(view_)}, kind="rollback")
    downgrade = bool(good) and versions.newer(good[-1], target)
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
    destination = quarantine_dir or default_quarantine(view_)
    change = repoint(
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
    message += plan_render.usage_message(usage_content, target)
    return Plan(
        store,
        target,
        view_.active,
        message,
        change,
        plan_render.diff(view_, content if moves_pointer else None, [], quarantined, usage_content),
        {
            "downgrade": downgrade,
            "rolled_back": moves_pointer,
            "quarantine_dir": destination,
            **plan_render.usage_extra(view_, usage_content),
        },
        kind="rollback",
    )


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
        plan_render.diff(view_, None, [], [], content),
        {"usage_repaired": True, **plan_render.usage_extra(view_, content)},
        kind="repair_usage",
    )


def rollback_target(view_: StoreView, to: str) -> str | None:
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
                "SET_NOT_GOOD", f"{to} in {view_.name} is {view_.sets[to]['status']}: {reasons(view_.sets[to])}", path=view_.folder(to)
            )
        return to
    if view_.active_status == GOOD:
        return view_.active
    older = [v for v in good if view_.active is None or not versions.is_version(view_.active) or not versions.newer(v, view_.active)]
    return older[-1] if older else None


def nothing_to_roll_back(view_: StoreView) -> str:
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
    check_quarantine_dir(quarantine_dir, view_)
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
    destination = quarantine_dir or default_quarantine(view_)
    usage_content = view_.usage_after(target, risky)
    change = repoint(
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
    message += plan_render.usage_message(usage_content, target)
    return Plan(
        store,
        target,
        view_.active,
        message,
        change,
        plan_render.diff(view_, content if moves_pointer else None, [], risky, usage_content),
        {"quarantined_sets": risky, "quarantine_dir": destination, **plan_render.usage_extra(view_, usage_content)},
        kind="repair_source",
    )
