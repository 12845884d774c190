"""What the SMSMSE product version means: event IDs and self-verification.

The vendor article (TECH146697) says the definition check exists in "6.5.1 and
higher" and "6.0.12 and higher", and names the events of two lines: 6.5.x
(399/400/401) and 6.0.x (393/394/395). :data:`LINES` is that article as data,
one row per range of versions:

- 6.5.1 and higher, 7.x and 8.x included, verify; 7.x and later are not named
  by the article, so their 6.5.x event IDs are *inferred* (the facts say so);
- 6.0.12 and higher on 6.0 verify, with the 6.0.x IDs;
- every version before those does not verify (``False``); 5.x and earlier
  have no event IDs the article names, and the facts say that instead.

An admin overrides both for a version from the inventory (the ``lines``
suboption of ``product``, see :func:`parse_lines`); the facts then say
``inventory``. A version that cannot be read stays ``unknown``: never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

PRODUCT_NAME = "Symantec Mail Security for Microsoft Exchange"

#: where a value of the product facts comes from
VENDOR, INFERRED, INVENTORY, UNKNOWN, NONE = "vendor", "inferred", "inventory", "unknown", "none"


@dataclass(frozen=True)
class Scheme:
    """The event IDs of one product line."""

    rollback: int
    no_valid: int
    init_failed: int

    def as_dict(self) -> dict[str, int]:
        return {"rollback": self.rollback, "no_valid": self.no_valid, "init_failed": self.init_failed}


SCHEMES: dict[str, Scheme] = {
    "6.5": Scheme(rollback=399, no_valid=400, init_failed=401),
    "6.0": Scheme(rollback=393, no_valid=394, init_failed=395),
}

Version = tuple[int, int, int]


@dataclass(frozen=True)
class Line:
    """Versions from ``first`` up to (not including) ``before``: what they do, and on whose word."""

    first: Version
    before: Version | None
    scheme: str | None  # a key of SCHEMES, None: the article names no event IDs
    self_verifies: bool
    self_verifies_basis: str
    event_ids_basis: str
    note: str


_NO_IDS = "the vendor article (TECH146697) names no event IDs for SMSMSE {line}, so the failure-event check is skipped"
_BEFORE = "it predates the definition check of 6.0.12 and 6.5.1 (TECH146697)"

LINES: tuple[Line, ...] = (
    Line((0, 0, 0), (6, 0, 0), None, False, VENDOR, NONE, f"{_NO_IDS.format(line='5.x and earlier')}; {_BEFORE}"),
    Line((6, 0, 0), (6, 0, 12), "6.0", False, VENDOR, VENDOR, f"6.0.x event IDs; {_BEFORE}"),
    Line((6, 0, 12), (6, 1, 0), "6.0", True, VENDOR, VENDOR, "6.0.12 and higher verify definitions (TECH146697)"),
    Line((6, 1, 0), (6, 5, 0), None, False, INFERRED, NONE, f"{_NO_IDS.format(line='6.1 to 6.4')}; {_BEFORE}"),
    Line((6, 5, 0), (6, 5, 1), "6.5", False, VENDOR, VENDOR, f"6.5.x event IDs; {_BEFORE}"),
    Line((6, 5, 1), (6, 6, 0), "6.5", True, VENDOR, VENDOR, "6.5.1 and higher verify definitions (TECH146697)"),
    Line(
        (6, 6, 0),
        None,
        "6.5",
        True,
        VENDOR,
        INFERRED,
        "'6.5.1 and higher' verify definitions (TECH146697), 7.x and 8.x included; the article names no event IDs "
        "for them, so the 6.5.x IDs are assumed (override them with the product's `lines` where they differ)",
    ),
)

#: event id -> meaning, from the vendor's articles on definition updates
EVENT_MEANINGS: dict[int, str] = {
    30: "Virus definitions update was successful (Hawking structure updated by LiveUpdate)",
    25: "Updated virus definitions (copied into CSAPI; the scanner uses them now)",
    399: "Virus definitions authenticity check failed; the server uses the previous good set",
    393: "Virus definitions authenticity check failed; the server uses the previous good set",
    400: "No valid virus definitions are available; the server starts a silent LiveUpdate",
    394: "No valid virus definitions are available; the server starts a silent LiveUpdate",
    401: "Failed to initialize the AV scanner: definitions are missing or corrupt everywhere",
    395: "Failed to initialize the AV scanner: definitions are missing or corrupt everywhere",
    404: "Virus definitions are older than the configured threshold (DefsMonitorDaysThreshold)",
}

EVENT_IDS: tuple[int, ...] = tuple(EVENT_MEANINGS)

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?")
_PREFIX = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,2}", re.ASCII)
_EVENT_KEYS = ("rollback", "no_valid", "init_failed")
_LINE_KEYS = frozenset({"event_ids", "self_verifies"})


def version_tuple(version: str) -> Version | None:
    """``6.5.8.123`` -> ``(6, 5, 8)``; None when it does not start with digits and dots."""
    match = _VERSION.match(version)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def line_of(parts: Version) -> Line:
    """The row of :data:`LINES` that holds a version."""
    return next(line for line in LINES if line.first <= parts and (line.before is None or parts < line.before))


@dataclass(frozen=True)
class Override:
    """What the inventory says about the versions that start with ``prefix``."""

    prefix: tuple[int, ...]
    event_ids: Scheme | None
    self_verifies: bool | None


def parse_lines(given: object) -> tuple[Override, ...]:
    """The ``lines`` suboption of ``product``: version prefix -> ``event_ids`` and/or ``self_verifies``.

    Raises ``OPTION_INVALID`` naming the entry and the fix for anything else.
    """
    if given is None:
        return ()
    if not isinstance(given, Mapping):
        raise _bad("", "must be a mapping of version prefix (for example '8.0') to `event_ids` and/or `self_verifies`")
    found = []
    for key, entry in given.items():
        prefix = str(key).strip()
        if not _PREFIX.fullmatch(prefix):
            raise _bad(prefix, "is not a version prefix: give one to three numbers separated by dots, for example '8' or '7.5.2'")
        if not isinstance(entry, Mapping) or not entry or set(entry) - _LINE_KEYS:
            raise _bad(prefix, "must be a mapping with `event_ids` and/or `self_verifies`, and nothing else")
        verifies = entry.get("self_verifies")
        if verifies is not None and not isinstance(verifies, bool):
            raise _bad(prefix, f"has self_verifies {verifies!r}: give true or false")
        found.append(Override(tuple(int(p) for p in prefix.split(".")), _event_ids(prefix, entry.get("event_ids")), verifies))
    return tuple(found)


def _event_ids(prefix: str, ids: object) -> Scheme | None:
    if ids is None:
        return None
    if not isinstance(ids, Mapping) or set(ids) != set(_EVENT_KEYS):
        raise _bad(prefix, "has event_ids that are not exactly `rollback`, `no_valid` and `init_failed`")
    for key in _EVENT_KEYS:
        value = ids[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            raise _bad(prefix, f"has event_ids.{key} {value!r}: give an event ID from 1 to 65535")
    return Scheme(rollback=ids["rollback"], no_valid=ids["no_valid"], init_failed=ids["init_failed"])


def _bad(prefix: str, problem: str) -> SmsmseError:
    where = f"`product.lines` entry '{prefix}'" if prefix else "`product.lines`"
    return SmsmseError("OPTION_INVALID", f"{where} {problem} (set in the task or the smsmse_defs_product host variable).")


def override_event_ids(overrides: tuple[Override, ...]) -> list[int]:
    """Every event ID the overrides name, for the probe to read as well."""
    return sorted({i for o in overrides if o.event_ids for i in o.event_ids.as_dict().values()})


def _matching(parts: Version, overrides: tuple[Override, ...]) -> list[Override]:
    """The overrides whose prefix the version starts with, most specific first."""
    return sorted((o for o in overrides if parts[: len(o.prefix)] == o.prefix), key=lambda o: -len(o.prefix))


class Description(TypedDict):
    """What a product version does (the ``product`` facts): its event IDs and whether it verifies definitions, each on
    whose word (``basis``), and a note that says so."""

    name: str | None
    version: str | None
    scheme: str
    event_ids: dict[str, int] | None
    self_verifies: bool | None
    basis: dict[str, str]
    note: str


def describe(name: str | None, version: str | None, overrides: tuple[Override, ...] = ()) -> Description:
    """The ``product`` facts for a name and version as found on the host."""
    parts = version_tuple(version) if version else None
    if parts is None:
        return {
            "name": name,
            "version": version,
            "scheme": "unknown",
            "event_ids": None,
            "self_verifies": None,
            "basis": {"event_ids": UNKNOWN, "self_verifies": UNKNOWN},
            "note": "the product version is not known, so neither its event IDs nor its own check are",
        }
    line = line_of(parts)
    scheme = SCHEMES[line.scheme] if line.scheme else None
    event_ids, ids_basis = (scheme.as_dict() if scheme else None), line.event_ids_basis
    verifies, verifies_basis = line.self_verifies, line.self_verifies_basis
    notes = [line.note]
    matching = _matching(parts, overrides)
    chosen_ids = next((o for o in matching if o.event_ids), None)
    if chosen_ids and chosen_ids.event_ids:
        event_ids, ids_basis = chosen_ids.event_ids.as_dict(), INVENTORY
        notes.append(f"event IDs from the inventory (product.lines '{_dotted(chosen_ids.prefix)}')")
    chosen_verifies = next((o for o in matching if o.self_verifies is not None), None)
    if chosen_verifies and chosen_verifies.self_verifies is not None:
        verifies, verifies_basis = chosen_verifies.self_verifies, INVENTORY
        notes.append(f"self-verification from the inventory (product.lines '{_dotted(chosen_verifies.prefix)}')")
    return {
        "name": name,
        "version": version,
        "scheme": ("inventory" if ids_basis == INVENTORY else line.scheme) or "none",
        "event_ids": event_ids,
        "self_verifies": verifies,
        "basis": {"event_ids": ids_basis, "self_verifies": verifies_basis},
        "note": "; ".join(notes),
    }


def _dotted(prefix: tuple[int, ...]) -> str:
    return ".".join(str(p) for p in prefix)


def event_meaning(event_id: int) -> str:
    return EVENT_MEANINGS.get(event_id, "not an event this collection knows")
