"""The plan's typed data: a planned change of one store (:class:`Plan`), what it adds to the module's result
(:class:`PlanExtra`), and where a set is fetched from (:class:`Fetch`). The builders are in :mod:`plan`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import SOURCE_STORES

SOURCES = SOURCE_STORES
#: the kinds of change a plan makes (each builder names its own)
PlanKind = Literal["promote", "import", "rollback", "repair_usage", "repair_source"]


class PlanExtra(TypedDict, total=False):
    """What a plan adds to the module's result (each key is set by the builders that name it)."""

    #: promote: the sets retired from the target store
    removed: list[str]
    #: promote: the source store; import: the distribution point's folder of the set
    source: str
    #: promote: a bad active set swapped for the good copy under its own name
    replaced_in_place: bool
    #: store -> set -> the product codes usage.dat gives it once done (the report's prediction of the checks)
    usage: dict[str, dict[str, list[str]]]
    #: promote, rollback: the store goes below its newest good set
    downgrade: bool
    #: nothing to do: what proved the active set good
    proof: str
    #: rollback: whether the pointer moves
    rolled_back: bool
    #: rollback, repair_source: where bad sets go
    quarantine_dir: str
    #: import: whether the set is fetched (False: a good copy is there) and how many bytes
    imported: bool
    bytes: int
    #: repair_source: the sets moved out of the source store
    quarantined_sets: list[str]
    #: repair_usage: only usage.dat changes
    usage_repaired: bool


class ExpectedFile(TypedDict):
    """One file of a folder as read, for an exchange's compare-and-swap (``sha256`` None where it was unreadable)."""

    size: int
    sha256: str | None


@dataclass
class Plan:
    """A change to make (``steps``), or none (no steps) with the reason in ``message``."""

    store: str
    version: str | None
    previous: str | None
    message: str
    steps: list[steps.Step] = field(default_factory=list)
    diff: list[dict[str, str]] = field(default_factory=list)
    extra: PlanExtra = field(default_factory=PlanExtra)
    #: what the change is: its action in the role's report
    kind: PlanKind = field(default="promote", kw_only=True)

    def __post_init__(self) -> None:
        self.steps = steps.arrange(self.steps)  # the order the agent runs them: what diff, check mode and the reply show

    @property
    def changes(self) -> bool:
        return bool(self.steps)


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
