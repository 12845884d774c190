"""The registry of stable error codes: what each means and what to do about it.

The table is data, ``error_codes.json`` beside this module (one code a line); this module reads it once and checks
its shape. Codes never change meaning once released; new ones are added at the end. ``docs/errors.md`` carries the
same table, and a test keeps the two equal. The exceptions that carry a code are in :mod:`errors`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

TABLE = Path(__file__).with_name("error_codes.json")
FIELDS = ("code", "meaning", "remediation")


@dataclass(frozen=True)
class ErrorCode:
    code: str
    meaning: str
    remediation: str


def load(text: str) -> tuple[ErrorCode, ...]:
    """The registry from the table's JSON text: a list of objects with exactly :data:`FIELDS`, all text, codes unique."""
    entries = json.loads(text)
    if not isinstance(entries, list):
        raise ValueError(f"{TABLE.name}: the table is a JSON list of error codes, not {type(entries).__name__}")
    found: list[ErrorCode] = []
    for index, entry in enumerate(entries):
        if (
            not isinstance(entry, dict)
            or sorted(entry) != sorted(FIELDS)
            or not all(isinstance(entry[f], str) and entry[f] for f in FIELDS)
        ):
            raise ValueError(f"{TABLE.name}: entry {index} needs exactly {', '.join(FIELDS)}, each a non-empty text")
        found.append(ErrorCode(entry["code"], entry["meaning"], entry["remediation"]))
    codes = [e.code for e in found]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValueError(f"{TABLE.name}: each code is listed once; repeated: {', '.join(repeated)}")
    return tuple(found)


REGISTRY: tuple[ErrorCode, ...] = load(TABLE.read_text(encoding="utf-8"))
BY_CODE: dict[str, ErrorCode] = {entry.code: entry for entry in REGISTRY}


class Code(StrEnum):
    """The registered codes the controller's control flow acts on (each is in the table: a test keeps it so). Code reads
    a result's error through :func:`code_of` and compares members, never the text of a code."""

    CHANGE_UNKNOWN = "CHANGE_UNKNOWN"
    SOURCE_MISMATCH = "SOURCE_MISMATCH"
    SOURCE_NOT_FOUND = "SOURCE_NOT_FOUND"


def code_of(error: object) -> Code | None:
    """The :class:`Code` of an error record (``SmsmseError.as_dict()``, a result's ``error``), or None: no record, or a
    code the controller does not act on."""
    code = error.get("code") if isinstance(error, Mapping) else None
    return next((member for member in Code if member.value == code), None)
