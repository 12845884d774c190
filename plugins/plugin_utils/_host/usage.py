"""``usage.dat``: which product uses which set of a shared Hawking store.

Symantec products that share a Hawking store (SAV/SEP, SMSMSE, ...) record there
the set each one uses, one INI section per set, one key per product code::

    [20121214.002]
    NAVCORP_70=1
    [20121215.003]
    SMSMSE_65=1

A product whose section names a set that is gone fails to start ("the
definitions failed to load", vendor article TECH84196); the fix is to move its
codes under a set that is there. Parsing keeps every line as written (unknown
lines, comments, sections that are no set, the encoding, newlines and byte-order
mark), so that :meth:`Usage.move` changes only the lines it moves. The file is
read by the agent as bytes and rewritten as bytes; everything is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import BOMS, DefinfoError, decode
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import UsageFile

USAGE = "usage.dat"
#: the product codes that are SMSMSE's own (``SMSMSE_65``, ``SMSMSE_70``...): the ones the collection's product uses
OWN_CODE = re.compile(r"^SMSMSE", re.IGNORECASE)
_SECTION = re.compile(r"^\s*\[(?P<name>[^\[\]]*)\]\s*$")
_KEY = re.compile(r"^\s*(?P<key>[^=;#\[\s][^=]*?)\s*=")
_SET = re.compile(r"[0-9]{8}\.[0-9]{3}", re.ASCII)


class UsageError(ValueError):
    """``usage.dat`` is not text: it is reported, never rewritten."""


@dataclass(frozen=True)
class Usage:
    """A parsed ``usage.dat``: its lines as written, and how to write them back."""

    lines: tuple[str, ...]
    newline: str = "\r\n"
    bom: bool = False
    final_newline: bool = True
    encoding: str = "utf-8"

    def _walk(self) -> list[tuple[str | None, str, str | None]]:
        """Each line with the section it is in (None before the first), its kind (section, code, other, blank), and its key."""
        walked: list[tuple[str | None, str, str | None]] = []
        section: str | None = None
        for text in self.lines:
            header = _SECTION.match(text)
            if header:
                section = header.group("name").strip()
                walked.append((section, "section", None))
                continue
            key = _KEY.match(text)
            if key and section is not None:
                walked.append((section, "code", key.group("key")))
            else:
                walked.append((section, "blank" if not text.strip() else "other", None))
        return walked

    def products(self) -> dict[str, list[str]]:
        """Section name -> its product codes, in file order (a section written twice is one entry)."""
        found: dict[str, list[str]] = {}
        for section, kind, key in self._walk():
            if section is None:
                continue
            codes = found.setdefault(section, [])
            if kind == "code" and key is not None and key not in codes:
                codes.append(key)
        return found

    def sets(self) -> dict[str, list[str]]:
        """Like :meth:`products`, for the sections named like a set only (``YYYYMMDD.RRR``)."""
        return {name: codes for name, codes in self.products().items() if _SET.fullmatch(name)}

    def other_lines(self) -> list[str]:
        """Lines that are neither a section, a product code nor blank (comments, text before any section): kept as written."""
        return [text for text, (_s, kind, _k) in zip(self.lines, self._walk()) if kind == "other"]

    def move(self, names: Collection[str], to: str) -> Usage:
        """A copy where the sections ``names`` are gone and their lines are under ``[to]`` (codes already there kept once)."""
        gone = set(names) - {to}
        walked = self._walk()
        kept: list[str] = []
        moved: list[str] = []
        for text, (section, kind, _key) in zip(self.lines, walked):
            if section in gone:
                if kind in ("code", "other"):
                    moved.append(text)
                continue
            kept.append(text)
        if not moved and not any(s in gone for s, kind, _k in walked if kind == "section"):
            return self
        present = {key.lower() for s, kind, key in _walk_of(kept) if s == to and kind == "code" and key}
        adding: list[str] = []
        for text in moved:
            key = _KEY.match(text)
            if key and key.group("key").lower() in present:
                continue
            if key:
                present.add(key.group("key").lower())
            adding.append(text)
        at = _end_of_section(kept, to)
        if at is None:
            kept += [f"[{to}]", *adding]
        else:
            kept[at:at] = adding
        return Usage(tuple(kept), self.newline, self.bom, self.final_newline or not self.lines, self.encoding)

    def render(self) -> bytes:
        text = self.newline.join(self.lines)
        if self.final_newline and self.lines:
            text += self.newline
        mark = next(mark for mark, encoding in BOMS if encoding == self.encoding) if self.bom else b""
        return mark + text.encode(self.encoding)


def _walk_of(lines: list[str]) -> list[tuple[str | None, str, str | None]]:
    return Usage(tuple(lines))._walk()


def _end_of_section(lines: list[str], section: str) -> int | None:
    """Just after the last code line of the first ``[section]`` (its header when it has none), or None when absent."""
    end: int | None = None
    for position, (name, kind, _key) in enumerate(_walk_of(lines)):
        if name != section:
            if end is not None and kind == "section":
                return end
            continue
        if (kind == "section" and end is None) or (kind == "code" and end is not None):
            end = position + 1
    return end


def parse(data: bytes, *, source: str = USAGE) -> Usage:
    """The lines of ``usage.dat``; :class:`UsageError` when it is not text (binary, NUL bytes)."""
    try:
        text, encoding, bom = decode(data, source=source)
    except DefinfoError as exc:
        raise UsageError(str(exc)) from None
    newline = "\r\n" if "\r\n" in text or not text else "\n"
    final_newline = text.endswith("\n")
    raw = text.split("\n")
    if final_newline:
        raw.pop()
    return Usage(tuple(line.removesuffix("\r") for line in raw), newline, bom, final_newline, encoding)


def stale(usage: Usage, held: Mapping[str, str]) -> dict[str, list[str]]:
    """Set sections that name a set the store does not hold, or a bad one: section -> its product codes.

    ``held``: the store's sets by version -> verdict status (``good``, ``bad``, ...).
    """
    return {name: codes for name, codes in usage.sets().items() if held.get(name, "missing") in ("missing", "bad")}


def foreign(usage: Usage) -> set[str]:
    """The sets ``usage.dat`` names for a product other than SMSMSE: never retired to keep a number of sets."""
    return {name for name, codes in usage.sets().items() if any(not OWN_CODE.match(code) for code in codes)}


class UsageFacts(TypedDict):
    """A store's ``usage`` facts: set -> the product codes that use it, the other sections, the lines kept as written, or
    why it was not read."""

    sha256: str | None
    size: int | None
    sets: dict[str, list[str]]
    sections: dict[str, list[str]]
    other_lines: list[str]
    error: str | None


def facts_of(found: UsageFile | None) -> UsageFacts | None:
    """The ``usage`` facts of a store: None without a usage.dat; else its sets' product codes and the lines kept as written."""
    if found is None:
        return None
    record: UsageFacts = {
        "sha256": found.sha256,
        "size": found.size,
        "sets": {},
        "sections": {},
        "other_lines": [],
        "error": found.error,
    }
    if found.content is None:
        return record
    try:
        parsed = parse(found.content)
    except UsageError as exc:
        return {**record, "error": f"{exc}; it is reported, never rewritten"}
    sets = parsed.sets()
    others = {name: codes for name, codes in parsed.products().items() if name not in sets}
    return {**record, "sets": sets, "sections": others, "other_lines": parsed.other_lines()[:_OTHER_LINES_SHOWN]}


_OTHER_LINES_SHOWN = 50
