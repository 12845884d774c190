"""One host, assessed: its snapshot, the verification, the decision and the checks, in one typed record.

:func:`assess` is the one entry point that reads a probe reply: it parses it
(:func:`snapshot.parse`, once per reply and run), judges every copy
(:func:`verify.judge`) and builds the facts. ``defs_verify`` registers
:meth:`Assessment.to_dict` (never the raw reply). The fleet step rebuilds it
(:meth:`Assessment.from_dict`, no parse), applies the fleet's marks once
(:meth:`Assessment.marked`) and decides once (:meth:`Assessment.decided`); it
hands each host that needs a change its decided assessment, and the host step
reads it. After a change or LiveUpdate the host is judged again, never patched.

The serialised form is described by ``schemas/assessment.json``.
"""

from __future__ import annotations

import binascii
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, TypedDict, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide, health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts, facts_types, product, snapshot, snapshot_codec, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import Snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog as catalogs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: the version of the serialised form (``schemas/assessment.json``)
FORMAT = 1
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "assessment.json"
#: what a fleet mark carries
MARK_KEYS = ("store", "version", "code", "message")


class AssessmentData(TypedDict):
    """An assessment as :meth:`Assessment.to_dict` gives it (``schemas/assessment.json``)."""

    format: int
    snapshot: snapshot_codec.SnapshotData
    overrides: dict[str, str | None]
    facts: facts_types.Facts
    verification: verify.Verification
    marks: list[dict[str, str]]
    decision: decide.DecisionRecord | None
    checks: list[dict[str, object]]


@dataclass(frozen=True)
class Assessment:
    """One host as read, judged and (once the fleet has spoken) decided."""

    snapshot: Snapshot
    #: the store paths the options gave when the reply was parsed
    overrides: Mapping[str, str | None]
    #: the ``smsmse_defs`` facts, without ``verification``
    facts: facts_types.Facts
    #: the verdicts (``plugins/modules/defs_verify.py`` RETURN), with ``marks`` applied
    verification: verify.Verification
    #: the marks from outside the host applied to the verdicts (fleet consensus): store, version, code, message
    marks: tuple[Mapping[str, str], ...] = ()
    #: what the host needs; None until decided
    decision: decide.Decision | None = None
    #: the health checks of the decided host
    checks: tuple[Mapping[str, Any], ...] = ()

    @property
    def smsmse_defs(self) -> dict[str, Any]:
        """The facts as ``defs_verify`` sets them: with ``verification``."""
        return {**self.facts, "verification": self.verification}

    def stores(self) -> dict[str, store_view.StoreView]:
        """Each store that exists with its copies' verdicts (what the planner reads)."""
        return store_view.view(self.snapshot, self.verification)

    def marked(self, marks: Iterable[Mapping[str, str]], agreed: verify.Agreed | None = None) -> Assessment:
        """The host with these marks applied to its verdicts (rules 3 and 4 run again); the decision is cleared."""
        given = tuple({k: m[k] for k in MARK_KEYS} for m in marks)
        problems = [verify.Mark(m["store"], m["version"], {"code": m["code"], "message": m["message"], "path": None}) for m in given]
        return replace(
            self, verification=verify.mark_bad(self.verification, problems, agreed=agreed), marks=given, decision=None, checks=()
        )

    def decided(self, *, repair_hawking: bool, max_age_days: int, today: dt.date) -> Assessment:
        """The host with what it needs (:func:`decide.decide`) and its health checks."""
        decision = decide.decide(self.stores(), self.facts["product"], repair_hawking=repair_hawking)
        checks = health.checks(
            self.smsmse_defs, max_age_days=max_age_days, today=today, risks=decision.risks, advice=decide.advice(decision)
        )
        return replace(self, decision=decision, checks=tuple(checks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "snapshot": snapshot_codec.to_dict(self.snapshot),
            "overrides": dict(self.overrides),
            "facts": dict(self.facts),
            "verification": dict(self.verification),
            "marks": [dict(m) for m in self.marks],
            "decision": None if self.decision is None else self.decision.as_dict(),
            "checks": [dict(c) for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Assessment:
        """The assessment :meth:`to_dict` gave (``schemas/assessment.json``); :func:`checked` first for data from outside."""
        record = cast(AssessmentData, data)  # what to_dict wrote, or what checked() held to the schema
        decision = record["decision"]
        return cls(
            snapshot=snapshot_codec.from_dict(record["snapshot"]),
            overrides=dict(record["overrides"]),
            facts=record["facts"].copy(),
            verification=record["verification"].copy(),
            marks=tuple(record["marks"]),
            decision=None if decision is None else decide.Decision.from_dict(decision),
            checks=tuple(record["checks"]),
        )


def assess(
    reply: Mapping[str, object],
    *,
    overrides: Mapping[str, str | None],
    required_files: Iterable[str],
    trusted: catalogs.Catalog | None,
    marks: Iterable[verify.Mark] = (),
    lines: tuple[product.Override, ...] = (),
) -> Assessment:
    """The host of a contract-checked hashing ``probe`` reply: parsed once, judged, its facts built.

    ``marks``: a caller's marks on sets (``bad_sets``), judged with the host's own rules.
    """
    host = snapshot.parse(reply, overrides)
    verification = verify.judge(host, required_files=required_files, catalog=trusted, marks=marks)
    return Assessment(
        snapshot=host, overrides=dict(overrides), facts=facts.build(host, strict=False, lines=lines), verification=verification
    )


def rejudged(
    found: Assessment, *, required_files: Iterable[str], trusted: catalogs.Catalog | None, marks: Iterable[verify.Mark] = ()
) -> Assessment:
    """The same snapshot judged again with this catalog and these marks (a change module given a registered assessment)."""
    verification = verify.judge(found.snapshot, required_files=required_files, catalog=trusted, marks=marks)
    return replace(found, verification=verification, marks=(), decision=None, checks=())


def checked(data: object, *, option: str) -> Assessment:
    """The assessment in ``data``, given from outside (a task option): it must match ``schemas/assessment.json``.

    Raises ``OPTION_INVALID`` naming the option and the first departures from the schema.
    """
    found = sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))[:3]
    fix = "register a defs_verify task on this host and pass its `assessment`"
    if found:
        where = "; ".join(f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:200]}" for e in found)
        raise SmsmseError("OPTION_INVALID", f"`{option}` is not the assessment a defs_verify task returns ({where}): {fix}.")
    if not isinstance(data, Mapping):  # the schema has refused it already: an assessment is an object
        raise SmsmseError("OPTION_INVALID", f"`{option}` is not the assessment a defs_verify task returns: {fix}.")
    try:
        return Assessment.from_dict(data)
    except (ValueError, binascii.Error, KeyError) as exc:
        raise SmsmseError("OPTION_INVALID", f"`{option}` is not the assessment a defs_verify task returns ({exc}): {fix}.") from None


@cache
def _validator() -> Any:
    import jsonschema  # a requirement of the collection (contract.py says so when it is missing)

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
