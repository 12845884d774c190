"""Values as a person reads them in the report: "1 day", "5.0 MB", "yes", "csapi, hawking", "none".

The JSON report keeps the values as they are; the HTML page, JUnit and the checks' own texts use these words.
"""

from __future__ import annotations

from collections.abc import Sequence

#: (unit, bytes in one), largest first
SIZE_UNITS: tuple[tuple[str, int], ...] = (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024))


def plural(count: int, unit: str) -> str:
    """``1 day``, ``2 days``, ``0 days``."""
    return f"{count} {unit}" + ("" if count == 1 else "s")


def days(count: int) -> str:
    return plural(count, "day")


def size(count: int) -> str:
    """A size in bytes as bytes, KB, MB or GB (binary units, one decimal)."""
    for unit, one in SIZE_UNITS:
        if count >= one:
            return f"{count / one:.1f} {unit}"
    return plural(count, "byte")


def value(found: object) -> str:
    """A check's expected or actual value as words: none, yes/no, a list joined with commas, else its text."""
    if found is None:
        return "none"
    if isinstance(found, bool):
        return "yes" if found else "no"
    if isinstance(found, Sequence) and not isinstance(found, str):
        return ", ".join(value(item) for item in found) or "none"
    return str(found)
