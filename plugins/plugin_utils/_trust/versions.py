"""Definition set versions: folder names of the form ``YYYYMMDD.RRR``.

A version is ASCII: eight digits 0-9, a dot, three digits, matched whole. Never
``\\d`` (other scripts' digits) or ``$`` (which accepts a final newline): a folder
named ``20261126.004\\n`` or with full-width digits is not a version, and is never
written into ``definfo.dat``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

_VERSION = re.compile(r"(?P<date>[0-9]{8})\.(?P<rev>[0-9]{3})", re.ASCII)
#: what a person would take for a version: other digits, spaces or a newline around it
_LOOKALIKE = re.compile(r"\s*\d{8}\.\d{3}\s*")

#: A set dated this far after the controller's clock is still accepted: the
#: vendor publishes in US time zones, so a set can look a day early elsewhere.
FUTURE_TOLERANCE = dt.timedelta(days=2)


class VersionError(ValueError):
    """A folder name is not a valid definition set version."""


@dataclass(frozen=True, order=True)
class SetVersion:
    """A definition set version, ordered by date and then by revision."""

    date: dt.date
    revision: int

    def __str__(self) -> str:
        return f"{self.date:%Y%m%d}.{self.revision:03d}"


def parse_version(
    text: str,
    *,
    today: dt.date | None = None,
    tolerance: dt.timedelta = FUTURE_TOLERANCE,
) -> SetVersion:
    """Parse ``YYYYMMDD.RRR``; raise :class:`VersionError` naming what is wrong."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise VersionError(f"{text!r} is not a set version: expected YYYYMMDD.RRR, for example 20121215.003")
    digits = match.group("date")
    try:
        date = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise VersionError(f"{text!r} is not a set version: {digits} is not a calendar date") from None
    limit = (today or dt.datetime.now(dt.timezone.utc).date()) + tolerance
    if date > limit:
        raise VersionError(f"'{text}' is dated in the future (after {limit:%Y-%m-%d}): check the host's clock or the set's origin")
    return SetVersion(date=date, revision=int(match.group("rev")))


#: where a name no version can be parsed from sorts: after every version, by its text (as the product, which sorts
#: folder names as text, would take it for the newest); a sort key never raises
SortKey = tuple[int, dt.date, int, str]


def sort_key(text: str) -> SortKey:
    """A key that orders every name: valid versions by date and revision, then (sorted apart, by text) names dated in
    the future or on impossible dates and anything else. Such sets are bad (docs/trust.md); ordering never fails on them."""
    try:
        parsed = parse_version(text)
    except VersionError:
        return (1, dt.date.min, 0, text)
    return (0, parsed.date, parsed.revision, "")


def newer(a: str, b: str | None) -> bool:
    """Whether ``a`` sorts after ``b`` by :func:`sort_key` (anything is newer than None)."""
    return b is None or sort_key(a) > sort_key(b)


def looks_like_version(name: str) -> bool:
    """Whether a folder is named like a set (valid or not): eight digits, a dot, three digits."""
    return _VERSION.fullmatch(name) is not None


def lookalike(name: str) -> bool:
    """Whether ``name`` only looks like a version: other digits, or spaces or a newline around one."""
    return _LOOKALIKE.fullmatch(name) is not None and not looks_like_version(name)


def is_version(text: str, *, today: dt.date | None = None) -> bool:
    """Whether ``text`` parses as a valid set version."""
    try:
        parse_version(text, today=today)
    except VersionError:
        return False
    return True


def newest(versions: Iterable[str | None], *, today: dt.date | None = None) -> str | None:
    """The newest of several version strings (missing and invalid ones are ignored)."""
    parsed = [parse_version(v, today=today) for v in versions if v and is_version(v, today=today)]
    return str(max(parsed)) if parsed else None
