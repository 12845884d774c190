"""The typed data of one host's run of the defs_health role: the role's options, the fleet's decision, the judged host,
the agent calls the action plugin provides, and how far an enforce run got."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import distpoint, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify


class Action(TypedDict):
    """One action of a host's record: planned (report mode), done, or failed."""

    action: str
    result: Literal["planned", "done", "failed"]
    version: str | None
    previous: str | None
    message: str
    #: a change's warnings from the agent, and whether the host changed (taken off before the record is written)
    warnings: NotRequired[list[str]]
    changed: NotRequired[bool]
    #: LiveUpdate or an import: the source asked, and whether it healed the host (the reports' fixed_by)
    source: NotRequired[str]
    fixed: NotRequired[bool]


@dataclass(frozen=True)
class Fleet:
    """What the fleet decided once: the votes per version and digest (None: consensus is off), and the threshold."""

    votes: Mapping[str, Mapping[str, int]] | None = None
    threshold: float = 0.5

    def agreed(self) -> verify.Agreed:
        """Version -> the digest the fleet decided (none when consensus is off): copies with it are proven by ``consensus``."""
        return consensus.winners(self.votes, threshold=self.threshold) if self.votes is not None else {}


@dataclass(frozen=True)
class Options:
    """The role's options that shape one host's run."""

    mode: str
    max_age_days: int
    keep: int
    quarantine: bool
    repair_hawking: bool
    liveupdate: bool
    today: dt.date
    #: where a host with no good set gets one, in order: liveupdate, or a distribution point (defs_health_sources)
    sources: tuple[str, ...] = (distpoint.LIVEUPDATE,)
    #: the versions the trusted catalog lists, newest first (what a distribution point is asked for)
    catalogued: tuple[str, ...] = ()


@dataclass
class Judged:
    """One host as verified and judged: its facts (marks applied), its stores, and what it needs."""

    smsmse_defs: dict[str, Any]
    stores: dict[str, store_view.StoreView]
    decision: decide.Decision
    checks: list[dict[str, Any]]
    #: the decided assessment it was read from (None: facts predicted or read back after a change)
    assessed: assessment.Assessment | None = None

    @classmethod
    def of(cls, decided: assessment.Assessment) -> Judged:
        """The host step's working record of a decided assessment."""
        if decided.decision is None:
            raise ValueError("the assessment has no decision")
        return cls(decided.smsmse_defs, decided.stores(), decided.decision, [dict(c) for c in decided.checks], decided)


@dataclass(frozen=True)
class Agent:
    """The agent calls run_host may make, provided by the action plugin."""

    #: run the steps in one apply call; the checked reply
    apply: Callable[[Sequence[steps.Step]], Mapping[str, Any]]
    #: run LiveUpdate; a defs_liveupdate-like result (``failed``, ``msg``)
    liveupdate: Callable[[], Mapping[str, object]]
    #: verify the host again; a defs_verify-like result
    reverify: Callable[[], Mapping[str, object]]
    #: bring (source, version) into the host's source store; a defs_import-like result (``failed``, ``msg``, ``error``, ``changed``)
    fetch: Callable[[str, str, Mapping[str, store_view.StoreView]], Mapping[str, object]] | None = None


@dataclass
class Progress:
    """How far an enforce run on one host got: what it was doing, the actions so far, whether the host changed."""

    doing: str
    actions: list[Action] = field(default_factory=list)
    changed: bool = False
    plans: list[plan.Plan] = field(default_factory=list)
    #: the plans were sent to the host and their reply is not read yet: a failure now leaves the change unknown
    changing: bool = False
