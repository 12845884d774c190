"""What one host needs: the one owner of every decision about a host's stores, for the modules and the role alike.

Input is the host's stores with their verdicts (:class:`store_view.StoreView`, after
the catalog, fleet consensus and the source rule); output is a
:class:`Decision`. It mirrors, from the outside, what SMSMSE 6.5.1+/6.0.12+
does inside one server, and goes further where the product cannot:

- CSAPI's active set is good and at the newest good version: nothing
  (the product's 10-minute copy job, event 25, has nothing to add);
- a newer good set is in a source store: promote it;
- CSAPI's active set is bad: promote the newest good set when a source holds
  one at least as new as CSAPI's own good sets (a good copy of the active
  version replaces the bad one in place), else roll back to CSAPI's newest
  good set (what the product does on event 399/393);
- no good set anywhere: LiveUpdate (event 400/394), then the same decision
  again on what it brought; still nothing: the host fails with the runbook
  (event 401/395).

Besides CSAPI, every set the scanner could end up using is made safe: a bad
set newer than the newest good one in a source store is what the product's
copy job takes next (on versions that do not verify, straight into use), so
it is quarantined and the store points back at its newest good set. The
SMSMSE Hawking store belongs to the product and is repaired by default; the
plain Hawking store is shared with SAV/SEP, so it is repaired only when asked
(``repair_hawking``) and otherwise reported as a risk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_names, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import SOURCE_STORES
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_names import StoreName
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify, versions

#: what a host needs first
Action = Literal["none", "promote", "rollback", "liveupdate"]
NONE: Action = "none"
PROMOTE: Action = "promote"
ROLLBACK: Action = "rollback"
LIVEUPDATE: Action = "liveupdate"
#: source stores the collection repairs without being asked: the product's own
OWNED_SOURCES = store_names.OWNED_SOURCES


class DecisionRecord(TypedDict):
    """A decision as an assessment carries it (``schemas/assessment.json`` ``decision``)."""

    action: Action
    reason: str
    source: StoreName | None
    version: str | None
    repairs: list[StoreName]
    risks: list[str]
    usage_repairs: list[StoreName]


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    #: the source store to promote from
    source: StoreName | None = None
    version: str | None = None
    #: the source stores whose bad newest sets are quarantined
    repairs: tuple[StoreName, ...] = ()
    risks: tuple[str, ...] = field(default=())
    #: source stores whose usage.dat gives a product a missing or bad set, and which hold a good set to move it to
    usage_repairs: tuple[StoreName, ...] = ()

    @property
    def needs_change(self) -> bool:
        return self.action != NONE or bool(self.repairs) or bool(self.usage_repairs)

    def as_dict(self) -> DecisionRecord:
        return {
            "action": self.action,
            "reason": self.reason,
            "source": self.source,
            "version": self.version,
            "repairs": list(self.repairs),
            "risks": list(self.risks),
            "usage_repairs": list(self.usage_repairs),
        }

    @classmethod
    def from_dict(cls, data: DecisionRecord) -> Decision:
        """The decision :meth:`as_dict` gave."""
        return cls(
            action=data["action"],
            reason=data["reason"],
            source=data["source"],
            version=data["version"],
            repairs=tuple(data["repairs"]),
            risks=tuple(data["risks"]),
            usage_repairs=tuple(data["usage_repairs"]),
        )


#: the decision's action -> the advice it gives, in the words the remediation of a failing check uses
ADVICE: dict[str, str] = {
    PROMOTE: "Promote {version} from {source} into CSAPI (enforce does).",
    ROLLBACK: "Roll CSAPI back to {version}, the newest good set it holds (enforce does).",
    LIVEUPDATE: (
        "No good set can reach CSAPI: run LiveUpdate (enforce does, with defs_health_liveupdate), then promote the set it "
        "brings; if LiveUpdate cannot help, follow the runbook."
    ),
}
REPAIR_ADVICE = "Quarantine the bad newest set(s) of {stores} and point the store back at its newest good set (enforce does)."


def advice(decision: Decision, *, done: bool = False) -> str | None:
    """What the host should do, from its decision: the action, the source stores to repair, the risks left (each naming
    the role option that would allow its fix). ``done``: the action and repairs were carried out; only the risks remain.
    None when the decision has nothing to say (the checks' own remediations stand).
    """
    parts = []
    if not done and decision.action in ADVICE:
        parts.append(ADVICE[decision.action].format(version=decision.version, source=decision.source))
    if not done and decision.repairs:
        parts.append(REPAIR_ADVICE.format(stores=", ".join(decision.repairs)))
    parts += decision.risks
    return " ".join(parts) or None


def decide(stores: Mapping[str, store_view.StoreView], product: Mapping[str, object], *, repair_hawking: bool = False) -> Decision:
    """What the host needs: the CSAPI action, the source stores to repair, and the risks left."""
    repairs, risks = _source_repairs(stores, product, repair_hawking=repair_hawking)
    action, reason, source, version = _csapi_action(stores)
    usage_repairs = tuple(name for name in SOURCE_STORES if name in stores and _usage_repairable(stores[name]))
    return Decision(action, reason, source, version, tuple(repairs), tuple(risks), usage_repairs)


def _usage_repairable(view: store_view.StoreView) -> bool:
    """Whether usage.dat names a missing or bad set and the store holds a good set to move the codes to.

    Also in the shared Hawking store: moving a product's codes to a set that is there is the vendor's own fix (TECH84196),
    and it removes nothing."""
    good = view.good()
    target = view.active if view.active_status == store_view.GOOD and view.active else (good[-1] if good else None)
    return target is not None and view.usage_after(target) is not None


def _csapi_action(stores: Mapping[str, store_view.StoreView]) -> tuple[Action, str, StoreName | None, str | None]:
    csapi = stores.get("csapi")
    sources: dict[str, store_view.StoreView] = {k: v for k, v in stores.items() if k in SOURCE_STORES}
    source = choose_source(sources)
    source_best = stores[source].good()[-1] if source and stores[source].good() else None
    csapi_good = csapi.good() if csapi else []
    csapi_best = csapi_good[-1] if csapi_good else None
    if source_best is None and csapi_best is None:
        return LIVEUPDATE, "no good set in any store", None, None
    active = csapi.active if csapi else None
    active_good = csapi is not None and csapi.active_status == store_view.GOOD
    if active_good and versions.newest([active, source_best]) == active:
        return (
            NONE,
            f"CSAPI is at the newest good set {active}{verify.unproven(csapi.sets.get(active) if csapi and active else None)}",
            None,
            None,
        )
    if source_best and versions.newest([source_best, csapi_best]) == source_best:
        if source_best != active:
            unproven = verify.unproven(stores[source].sets.get(source_best)) if source else ""
            return PROMOTE, f"newer good set {source_best} in {source}{unproven}", source, source_best
        return PROMOTE, f"CSAPI's active set {active} is bad; the good copy in {source} replaces it in place", source, source_best
    if csapi_best and csapi_best != active:
        status = csapi.active_status if csapi else "none"
        return ROLLBACK, f"CSAPI's active set is {status}; {csapi_best} is good", None, csapi_best
    return LIVEUPDATE, "no good set can reach CSAPI", None, None


def _source_repairs(
    stores: Mapping[str, store_view.StoreView], product: Mapping[str, object], *, repair_hawking: bool
) -> tuple[list[StoreName], list[str]]:
    repairs: list[StoreName] = []
    risks: list[str] = []
    csapi = stores.get("csapi")
    csapi_good = csapi.good() if csapi else []
    for name in SOURCE_STORES:
        view = stores.get(name)
        if view is None:
            continue
        stranded = unrepairable_risk(view, csapi_good[-1] if csapi_good else None)
        if stranded:
            risks.append(unrepairable_risk_message(name, _described(view, stranded), csapi_good[-1] if csapi_good else None, product))
        risky = source_risk(view)
        if not risky:
            continue
        if name in OWNED_SOURCES or repair_hawking:
            repairs.append(name)
        else:
            risks.append(source_risk_message(name, _described(view, risky), product))
    return repairs, risks


def _described(view: store_view.StoreView, names: list[str]) -> list[str]:
    """``version (status)``: a set not in the catalog is ``unknown``, not ``bad``, and the message says which."""
    return [f"{v} ({view.sets[v]['status']})" for v in names]


def _consequence(product: Mapping[str, object]) -> str:
    who = f"SMSMSE {product.get('version') or '(version unknown)'}"
    if product.get("self_verifies"):
        return f"{who} verifies definitions itself and falls back to the previous good set (event 399/393)"
    return f"{who} does not verify definitions (only 6.5.1+ and 6.0.12+ do) and would put them into use"


def unrepairable_risk_message(store: str, risky: list[str], csapi_best: str | None, product: Mapping[str, object]) -> str:
    """The risk of a source store that holds no good set: nothing to point it at, so only new definitions help."""
    than = f"CSAPI's {csapi_best}" if csapi_best else "anything good in CSAPI"
    return (
        f"{store} holds no good set, and its set(s) {', '.join(risky)} are newer than {than}: the product's copy job "
        f"(every 10 minutes) takes the newest set next; {_consequence(product)}. Run LiveUpdate on the host (or replace the "
        f"store's sets from a good source) so that {store} holds a good set again."
    )


def source_risk_message(store: str, risky: list[str], product: Mapping[str, object]) -> str:
    """The exact risk of a bad source set left in place, and the product versions it applies to."""
    sets = ", ".join(risky)
    consequence = _consequence(product)
    return (
        f"The set(s) {sets} in {store} are not good and newer than its newest good set: the product's copy job (every 10 minutes) "
        f"takes the newest set next; {consequence}. Set defs_health_repair_hawking (or run defs_rollback with "
        f"store={store} and quarantine=true) to move them out; the store is shared with SAV/SEP."
    )


# --- which source store, and what the product's copy job would take next ---


def choose_source(stores: Mapping[str, store_view.StoreView]) -> StoreName | None:
    """The source store to promote from: the one with the newest good set; on a tie, the product's own (SMSMSE Hawking).

    The one place the default source is chosen, for defs_promote and the role alike.
    """
    best: tuple[StoreName, str] | None = None
    for name in SOURCE_STORES:
        if name not in stores or not stores[name].good():
            continue
        newest = stores[name].good()[-1]
        if best is None or versions.newer(newest, best[1]):
            best = (name, newest)
    if best is not None:
        return best[0]
    return first_source(stores)


def first_source(stores: Mapping[str, store_view.StoreView]) -> StoreName | None:
    """The first source store the host has, in the table's rank (the product's own, SMSMSE Hawking, first): where a set
    from a distribution point goes in (defs_import and the role alike), and the source when none holds a good set."""
    return next((name for name in SOURCE_STORES if name in stores), None)


def source_risk(view_: store_view.StoreView) -> list[str]:
    """The sets of a source store newer than its newest good set that are not good (bad, or not in the catalog):
    what the product's copy job would pick up next. Empty when the store holds no good set (see :func:`unrepairable_risk`)."""
    good = view_.good()
    if not good:
        return []
    return [v for v in _not_good(view_) if versions.newer(v, good[-1])]


def unrepairable_risk(view_: store_view.StoreView, csapi_best: str | None) -> list[str]:
    """A source store with no good set to point at: its sets newer than CSAPI's newest good one, which the copy job takes next."""
    if view_.good():
        return []
    return [v for v in _not_good(view_) if csapi_best is None or versions.newer(v, csapi_best)]


def _not_good(view_: store_view.StoreView) -> list[str]:
    return sorted((v for v, record in view_.sets.items() if record["status"] != store_view.GOOD), key=versions.sort_key)
