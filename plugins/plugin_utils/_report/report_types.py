"""The fleet report's document as types: what ``schemas/report.json`` says, and what each renderer reads.

A host's :class:`Record` (what the role's host step gives the report) becomes a :class:`Host` of the
:class:`Report` (graded, with its drift and why nothing was done), built once by :mod:`report_build`; the
history keeps a :class:`KeptRun` of each run, read back through its schema (:mod:`report_history`).
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, TypeGuard, get_args

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.verify import Proof

#: a host's status in the report, best last (the order of the summary's counts)
Status = Literal["compliant", "fixed", "drift", "failed", "unreachable"]
STATUSES: tuple[Status, ...] = get_args(Status)
Severity = Literal["critical", "high", "medium", "low", "info"]
CheckStatus = Literal["pass", "fail", "fixed", "error", "skipped"]
ActionKind = Literal["promote", "rollback", "liveupdate", "import", "repair_source", "repair_usage", "verify"]
ActionResult = Literal["done", "failed", "planned"]


def is_status(value: object) -> TypeGuard[Status]:
    """Whether ``value`` is one of the report's host statuses."""
    return value in STATUSES


def as_status(value: str) -> Status:
    """``value`` as a host status (ValueError naming it when it is none)."""
    if not is_status(value):
        raise ValueError(f"{value!r} is not a host status of the report (one of {', '.join(STATUSES)})")
    return value


class Check(TypedDict):
    """One check of a host: what was expected, what was found, and what to do about it."""

    id: str
    title: str
    severity: Severity
    status: CheckStatus
    expected: object
    actual: object
    remediation: str
    detail: str


class Action(TypedDict):
    """One step the run took (or planned, in report mode) on a host; only ``action`` and ``result`` are always there."""

    action: ActionKind
    result: ActionResult
    version: NotRequired[str | None]
    previous: NotRequired[str | None]
    message: NotRequired[str]
    warnings: NotRequired[list[str]]
    #: liveupdate or a distribution point (liveupdate and import actions), and whether its set healed the host
    source: NotRequired[str]
    fixed: NotRequired[bool]


class Versions(TypedDict):
    """The host's versions: CSAPI's active set (and what proved it), the newest good, Hawking's newest, the product."""

    csapi_active: str | None
    csapi_proof: NotRequired[Proof | None]
    newest_good: str | None
    hawking_newest: str | None
    age_days: int | None
    product: str | None
    scheme: str | None


class StoreProblem(TypedDict):
    """An entry of a host's store that the agent escaped, left out or could not read."""

    store: str
    code: str
    message: str
    path: str | None


class StoreProblems(TypedDict):
    """How many store problems a host has, and the first of them."""

    count: int
    entries: list[StoreProblem]


class HostBase(TypedDict):
    """What a host's record and its row in the report both hold."""

    name: str
    status: Status
    message: str
    checks: list[Check]
    actions: list[Action]
    versions: Versions


class Record(HostBase):
    """A host's record as the role's host step gives it to the report (a hand-made one may lack its store problems)."""

    store_problems: NotRequired[StoreProblems]


class Drift(TypedDict):
    """Since when the host's current run of drift or failure began, for how many runs, and how many days (None: no drift)."""

    drifting_since: str | None
    drift_runs: int | None
    drift_days: int | None


class Host(HostBase, Drift):
    """A host of the report: its record graded, its drift, its store problems, and why nothing was done."""

    store_problems: StoreProblems
    why_no_action: str | None


class Summary(TypedDict):
    """The fleet in numbers: hosts, and per status their count and percent."""

    hosts: int
    counts: dict[Status, int]
    percent: dict[Status, float]
    hosts_with_store_problems: int


class PastRun(TypedDict):
    """An earlier run as the report lists it: its id, start and summary."""

    run_id: str | None
    started: str
    summary: Summary


class Report(TypedDict):
    """The fleet report (``defs-health.json``); ``options`` are the role's, with ``fail_severities`` always there."""

    schema: str
    version: int
    run_id: str
    started: str
    ended: str
    options: dict[str, object]
    summary: Summary
    hosts: list[Host]
    history: list[PastRun]


class KeptHost(TypedDict):
    """A host as the history keeps it: all that drift needs."""

    name: str
    status: Status


class KeptRun(TypedDict):
    """What the history keeps of a run (``history/defs-health-<run_id>.json``)."""

    schema: str
    version: int
    run_id: str
    started: str
    ended: str
    summary: Summary
    hosts: list[KeptHost]
