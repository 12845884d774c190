"""The primitive steps of a change, in the order the agent runs them (see docs/changes.md).

Each change to a store is one *group* of steps, in this order (:func:`arrange`):
take the lock, check the store is as it was read, clean up, check the
preconditions (pointer, volume, space), stage the new set, stop the service,
check that no file of the set to move is held open, do the steps up to and
including the commit point, start the service again (always, and only if this
request stopped it), then the tidy-up (retire, quarantine), the event, and
release the lock. The service is down only around the steps that switch what
the scanner uses. This module only spells the steps; :mod:`plan` decides what
they are for, and :mod:`outcome` reads the reply.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NotRequired, TypedDict, Unpack, cast

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

#: the primitive operations of ``schemas/agent/apply.request.json``, in the order a group runs them
Op = Literal[
    "lock",
    "expect",
    "preflight",
    "clean",
    "stage",
    "fetch",
    "matches",
    "rename",
    "exchange",
    "write_pointer",
    "retire",
    "quarantine",
    "event",
    "service",
    "unlock",
]


class FileRecord(TypedDict):
    """One file of a set as a step names it: its size and SHA-256 (a manifest's value)."""

    size: int
    sha256: str


class Preflight(TypedDict, total=False):
    """The preconditions a group checks before it changes anything (the ``preflight`` step's arguments)."""

    pointer_writable: bool
    same_volume: list[str]
    free_bytes: int
    not_in_use: list[str]


#: every argument any op takes (``apply.request.json`` ``args_<op>``); each op uses its own few
StepArgs = TypedDict(
    "StepArgs",
    {
        "stale_seconds": int,
        "definfo_sha256": "str | None",
        "definfo_kind": str,
        "pointer_writable": bool,
        "same_volume": list[str],
        "free_bytes": int,
        "not_in_use": list[str],
        "source": str,
        "name": str,
        "manifest": dict[str, FileRecord],
        "timeout_seconds": int,
        "deadline_seconds": int,
        "validate_certs": bool,
        "ca_path": str | None,
        "proxy": str | None,
        "from": str,
        "to": str,
        "a": str,
        "b": str,
        "expect_b": dict[str, FileRecord] | None,
        "content_b64": str,
        "expect_sha256": "str | None",
        "expect_kind": str,
        "file": str,
        "dest_dir": str,
        "dest_name": str,
        "events": list[dict[str, object]],
        "events_file": str | None,
        "action": str,
        "service": str | None,
        "command": list[str] | None,
        "timeout": int,
        "only_if_stopped_here": bool,
    },
    total=False,
)


class Step(TypedDict):
    """One primitive step of an ``apply`` request."""

    op: Op
    store: str
    required: bool
    always: bool
    commit: bool
    args: StepArgs


#: how a step ended (``schemas/agent/apply.reply.json``)
Result = Literal["done", "skipped", "failed", "locked", "conflict", "refused", "source_changed", "in_use", "timeout"]


class StepData(TypedDict, total=False):
    """What a step reports beyond its result (``apply.reply.json`` ``data_<op>``); each op sends its own few keys."""

    broken: str | None
    sha256: str | None
    kind: str
    checked: list[str]
    holders: list[str]
    #: clean: the leftovers removed; retire: whether anything was removed
    removed: list[str] | bool
    remaining: list[str]
    restored: list[str]
    bytes_copied: int
    files: int
    bytes_fetched: int
    files_fetched: int
    atomic: bool
    temp: str | None
    trash: str | None
    link: bool
    destination: str | None
    copied: bool
    written: bool
    exit_code: int | None
    output: str
    stopped: bool
    started: bool
    dependents: list[str]


class StepReport(TypedDict):
    """One step's outcome in an ``apply`` reply, in the request's order."""

    op: Op
    result: Result
    code: str | None
    message: str
    data: StepData


class Sent(TypedDict):
    """The part of an ``apply`` request a reply is read against: its steps, in the order the agent ran them."""

    steps: Sequence[Step]


class Request(TypedDict):
    """An ``apply`` request (``schemas/agent/apply.request.json``)."""

    wire: dict[str, object]
    cache_dir: str | None
    steps: Sequence[Step]
    #: the stores to read after the last step
    read_back: NotRequired[list[str]]
    #: Windows: the store privacy rule the agent applies (plugin_utils/_trust/privacy.py)
    privacy: NotRequired[dict[str, object]]


class Reply(TypedDict):
    """An ``apply`` reply, or the part of one that answers one plan's steps (after ``contract.check_reply``)."""

    steps: Sequence[StepReport]
    warnings: Sequence[str]


def step(op: Op, store: str, *, required: bool = True, always: bool = False, commit: bool = False, **args: object) -> Step:
    """One primitive step for the ``apply`` request; ``args`` are the op's (``apply.request.json``, checked there)."""
    return {"op": op, "store": store, "required": required, "always": always, "commit": commit, "args": cast(StepArgs, args)}


@dataclass(frozen=True)
class Restart:
    """How the scanner is restarted around a change: the Windows service, or a command on POSIX hosts."""

    windows: bool
    service: str | None
    command: list[str] | None
    timeout: int

    def before(self, store: str) -> list[Step]:
        """Stop the service before the commit, so that the scanner lets go of the active set's files (Windows)."""
        if not self.windows:
            return []
        return [step("service", store, action="stop", service=self.service, command=None, timeout=self.timeout)]

    def after(self, store: str) -> list[Step]:
        """Start the service again: always (even after a failure), only if this request stopped it; on POSIX, run the
        restart command. Best-effort as a step (the tidy-up and the event still run), but a start that fails fails the
        task (outcome: SERVICE_NOT_RESTARTED)."""
        if self.windows:
            start = step(
                "service",
                store,
                required=False,
                always=True,
                action="start",
                service=self.service,
                command=None,
                timeout=self.timeout,
                only_if_stopped_here=True,
            )
            return [start]
        return [step("service", store, required=False, action="start", service=None, command=self.command, timeout=self.timeout)]


@dataclass(frozen=True)
class Group:
    """What every group of steps on one store shares: the lock, the expected pointer, and the closing steps."""

    store: str
    stale_seconds: int
    expect_sha256: str | None
    events: Sequence[Mapping[str, object]] = ()
    events_file: str | None = None
    restart: Restart | None = None
    #: what lstat saw at definfo.dat (absent, file, link, dir, other); None: a file when a digest is given, else absent
    expect_kind: str | None = None

    def opening(self, **preflight: Unpack[Preflight]) -> list[Step]:
        """Lock, compare-and-swap, remove leftovers (best-effort), stop the service (if asked), then every precondition."""
        return [
            step("lock", self.store, stale_seconds=self.stale_seconds),
            step("expect", self.store, definfo_sha256=self.expect_sha256, definfo_kind=self.kind),
            step("clean", self.store, required=False),
            *(self.restart.before(self.store) if self.restart else []),  # moved right before the commit steps by arrange()
            step(
                "preflight",
                self.store,
                pointer_writable=bool(preflight.get("pointer_writable", False)),
                same_volume=list(preflight.get("same_volume", [])),
                free_bytes=int(preflight.get("free_bytes", 0)),
                not_in_use=list(preflight.get("not_in_use", [])),
            ),
        ]

    @property
    def kind(self) -> str:
        return self.expect_kind or ("file" if self.expect_sha256 is not None else "absent")

    def closing(self) -> list[Step]:
        """The events (best-effort), the service started again, the lock released (both always)."""
        closing = []
        if self.events:
            closing.append(step("event", self.store, required=False, events=[dict(e) for e in self.events], events_file=self.events_file))
        if self.restart:
            closing.extend(self.restart.after(self.store))
        closing.append(step("unlock", self.store, required=False, always=True))
        return closing


def write_pointer(
    store: str, content: bytes, expect_sha256: str | None, expect_kind: str | None = None, *, commit: bool, file: str | None = None
) -> Step:
    """Replace ``definfo.dat`` (or ``file``: ``usage.dat``) with ``content``, if lstat still sees ``expect_kind`` there
    (and, for a file, ``expect_sha256``).

    ``expect_kind`` None: a file when a digest is given, else absent.
    """
    encoded = base64.b64encode(content).decode("ascii")
    expect_kind = expect_kind or ("file" if expect_sha256 is not None else "absent")
    found = step("write_pointer", store, commit=commit, content_b64=encoded, expect_sha256=expect_sha256, expect_kind=expect_kind)
    if file:
        found["args"]["file"] = file
    return found


def request(
    steps: Sequence[Step], *, wire: Mapping[str, object], cache_dir: str | None, store_privacy: Mapping[str, object] | None = None
) -> Request:
    """The ``apply`` request, its steps in the order the agent runs them (:func:`arrange`), asking for a read of every
    store the steps touch after the last one (``read_back``); CHANGE_TOO_LARGE when it holds more steps than one
    request may carry."""
    arranged = arrange(steps)
    limits = wire["limits"]
    limit = int(limits["max_steps"]) if isinstance(limits, Mapping) else 0
    if len(arranged) > limit:
        raise SmsmseError("CHANGE_TOO_LARGE", _too_large(arranged, limit))
    touched = list(dict.fromkeys(str(s["store"]) for s in arranged))[:MAX_READ_BACK]
    found: Request = {"wire": dict(wire), "cache_dir": cache_dir, "steps": arranged, "read_back": touched}
    if store_privacy is not None:  # Windows: the store privacy rule the agent applies (plugin_utils/_trust/privacy.py)
        found["privacy"] = dict(store_privacy)
    return found


#: stores one apply reads back after its last step (the contract's bound)
MAX_READ_BACK = 16


#: ops that switch what the scanner uses: the service is stopped right before the first and started right after the last
SWITCHING = frozenset({"rename", "exchange", "write_pointer"})


def arrange(steps: Sequence[Step]) -> list[Step]:
    """The steps of each group (a group starts at its ``lock`` step) in the order the agent must run them.

    lock, expect, clean, preflight (pointer, volume, space), the preparation (stage,
    matches), stop the service, preflight (``not_in_use`` only), the switching steps
    (rename, exchange, write_pointer, with a required retire right before them: a bad
    copy out of the way), start the service, the tidy-up (retire, quarantine), the
    event, unlock. Without a stop step the ``not_in_use`` check stays in the first
    preflight too (it refuses before the copy) and runs again right before the switch.
    Arranging arranged steps changes nothing.
    """
    arranged: list[Step] = []
    for group in _groups(steps):
        arranged.extend(_arrange_group(group) if group and group[0]["op"] == "lock" else group)
    return arranged


def _groups(steps: Sequence[Step]) -> list[list[Step]]:
    groups: list[list[Step]] = [[]]
    for s in steps:
        if s["op"] == "lock" and groups[-1]:
            groups.append([])
        groups[-1].append(s.copy())
    return groups


def _is_service(s: Step, action: str) -> bool:
    return bool(s["op"] == "service" and s["args"].get("action") == action)


def _arrange_group(group: list[Step]) -> list[Step]:
    stop = [s for s in group if _is_service(s, "stop")]
    start = [s for s in group if _is_service(s, "start")]
    tail = [s for s in group if s["op"] in ("event", "unlock")]
    preflights = [s for s in group if s["op"] == "preflight"]
    head: list[Step] = []
    checks: list[Step] = preflights[1:]  # an arranged group's own not_in_use check
    rest: list[Step] = []
    placed = {id(s) for s in (*stop, *start, *tail, *checks)}
    for s in group:
        if id(s) in placed:
            continue
        if s["op"] in ("lock", "expect") or (s["op"] == "clean" and not s["commit"] and all(h["op"] != "clean" for h in head)):
            head.append(s)
        elif s is (preflights[0] if preflights else None):
            busy = list(s["args"].get("not_in_use", []))
            head.append({**s, "args": {**s["args"], "not_in_use": [] if stop else busy}})
            if busy and not checks:
                checks.append(step("preflight", s["store"], pointer_writable=False, same_volume=[], free_bytes=0, not_in_use=busy))
        else:
            rest.append(s)
    switching = [i for i, s in enumerate(rest) if s["op"] in SWITCHING]
    if switching:
        first, last = switching[0], switching[-1] + 1
        while first > 0 and rest[first - 1]["op"] == "retire" and rest[first - 1]["required"]:
            first -= 1
    else:  # nothing switches: the service is stopped and started right before the commit step
        first = last = next((i for i, s in enumerate(rest) if s["commit"]), len(rest))
    return [*head, *rest[:first], *stop, *checks, *rest[first:last], *start, *rest[last:], *tail]


def _too_large(steps: Sequence[Step], limit: int) -> str:
    retires = Counter(s["store"] for s in steps if s["op"] in ("retire", "quarantine"))
    text = f"The change needs {len(steps)} steps, more than the {limit} one apply request carries"
    if not retires:
        return text + "."
    store, count = retires.most_common(1)[0]
    return text + f": it would retire or quarantine {count} old sets of {store} at once."


def commit_index(steps: Sequence[Step]) -> int | None:
    """Where the first commit point of ``steps`` is (None: the steps change nothing the scanner can see)."""
    return next((i for i, s in enumerate(steps) if s["commit"]), None)
