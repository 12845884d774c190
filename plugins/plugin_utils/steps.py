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
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

Step = dict[str, Any]


def step(op: str, store: str, *, required: bool = True, always: bool = False, commit: bool = False, **args: Any) -> Step:
    """One primitive step for the ``apply`` request."""
    return {"op": op, "store": store, "required": required, "always": always, "commit": commit, "args": args}


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
    events: Sequence[Mapping[str, Any]] = ()
    events_file: str | None = None
    restart: Restart | None = None
    #: what lstat saw at definfo.dat (absent, file, link, dir, other); None: a file when a digest is given, else absent
    expect_kind: str | None = None

    def opening(self, **preflight: Any) -> list[Step]:
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
    steps: Sequence[Step], *, wire: Mapping[str, Any], cache_dir: str | None, store_privacy: Mapping[str, object] | None = None
) -> dict[str, Any]:
    """The ``apply`` request, its steps in the order the agent runs them (:func:`arrange`), asking for a read of every
    store the steps touch after the last one (``read_back``); CHANGE_TOO_LARGE when it holds more steps than one
    request may carry."""
    arranged = arrange(steps)
    limit = int(wire["limits"]["max_steps"])
    if len(arranged) > limit:
        raise SmsmseError("CHANGE_TOO_LARGE", _too_large(arranged, limit))
    touched = list(dict.fromkeys(str(s["store"]) for s in arranged))[:MAX_READ_BACK]
    found = {"wire": dict(wire), "cache_dir": cache_dir, "steps": arranged, "read_back": touched}
    if store_privacy is not None:  # Windows: the store privacy rule the agent applies (plugin_utils/privacy.py)
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
        groups[-1].append(dict(s))
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
