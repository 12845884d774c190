"""What the SMSMSE product version means: event IDs and self-verification.

SMSMSE 6.5.1+ and 6.0.12+ verify definitions themselves and write events
399/400/401 (6.5.x) or 393/394/395 (6.0.x). Other versions are reported as
``unknown``, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PRODUCT_NAME = "Symantec Mail Security for Microsoft Exchange"


@dataclass(frozen=True)
class Scheme:
    """The event IDs of one product line and the first version that self-verifies."""

    rollback: int
    no_valid: int
    init_failed: int
    self_verifies_from: tuple[int, int, int]


SCHEMES: dict[str, Scheme] = {
    "6.5": Scheme(rollback=399, no_valid=400, init_failed=401, self_verifies_from=(6, 5, 1)),
    "6.0": Scheme(rollback=393, no_valid=394, init_failed=395, self_verifies_from=(6, 0, 12)),
}

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


def version_tuple(version: str) -> tuple[int, int, int] | None:
    """``6.5.8.123`` -> ``(6, 5, 8)``; None when it does not start with digits and dots."""
    match = _VERSION.match(version)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def describe(name: str | None, version: str | None) -> dict[str, Any]:
    """The ``product`` facts for a name and version as found on the host."""
    parts = version_tuple(version) if version else None
    key = f"{parts[0]}.{parts[1]}" if parts else None
    scheme = SCHEMES.get(key) if key else None
    return {
        "name": name,
        "version": version,
        "scheme": key if scheme else "unknown",
        "event_ids": ({"rollback": scheme.rollback, "no_valid": scheme.no_valid, "init_failed": scheme.init_failed} if scheme else None),
        "self_verifies": (parts >= scheme.self_verifies_from) if scheme and parts else None,
    }


def event_meaning(event_id: int) -> str:
    return EVENT_MEANINGS.get(event_id, "not an event this collection knows")
