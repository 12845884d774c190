"""``definfo.dat``: the INI file whose ``[DefDates]`` section names a store's active set.

Parsing keeps every line as written, so rendering what was parsed gives the
same bytes back; a change rewrites only the one key line it touches. Unknown
sections, keys and comments survive, and so do the file's newline style, a
byte-order mark and the presence or absence of a final newline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFDATES = "DefDates"
CUR_DEFS = "CurDefs"
LAST_DEFS = "LastDefs"

BOM = b"\xef\xbb\xbf"
_SECTION = re.compile(r"^\s*\[(?P<name>[^\[\]]+)\]\s*$")
_KEY = re.compile(r"^(?P<key>[^=;#\[\s][^=]*?)\s*=\s*(?P<value>.*?)\s*$")
_COMMENT = re.compile(r"^\s*[;#]")


class DefinfoError(ValueError):
    """``definfo.dat`` cannot be parsed; the message names the file and line."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        where = f"{source} line {line}" if line is not None else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.line = line


@dataclass(frozen=True)
class Line:
    """One line as written, with what it means."""

    text: str
    section: str | None = None  # for a section header, its name
    key: str | None = None  # for a key line, its key
    value: str | None = None


@dataclass(frozen=True)
class Definfo:
    """A parsed ``definfo.dat``."""

    lines: tuple[Line, ...] = ()
    newline: str = "\r\n"
    bom: bool = False
    final_newline: bool = True
    _index: dict[tuple[str, str], int] = field(default_factory=dict, compare=False, repr=False)

    def get(self, section: str, key: str) -> str | None:
        """The value of ``key`` in ``section`` (case-insensitive, as Windows reads INI files)."""
        position = self._index.get((section.lower(), key.lower()))
        return None if position is None else self.lines[position].value

    @property
    def cur_defs(self) -> str | None:
        return self.get(DEFDATES, CUR_DEFS) or None

    @property
    def last_defs(self) -> str | None:
        return self.get(DEFDATES, LAST_DEFS) or None

    def with_value(self, section: str, key: str, value: str) -> Definfo:
        """A copy with ``key`` set to ``value``; every other line stays as written."""
        lines = list(self.lines)
        position = self._index.get((section.lower(), key.lower()))
        if position is not None:
            old = lines[position]
            lines[position] = Line(text=f"{old.key}={value}", key=old.key, value=value)
        else:
            insert_at = _end_of_section(lines, section)
            if insert_at is None:
                if lines and lines[-1].text.strip():
                    lines.append(Line(text=""))
                lines.append(Line(text=f"[{section}]", section=section))
                insert_at = len(lines)
            lines.insert(insert_at, Line(text=f"{key}={value}", key=key, value=value))
        return _build(lines, newline=self.newline, bom=self.bom, final_newline=self.final_newline or not self.lines)


def _end_of_section(lines: list[Line], section: str) -> int | None:
    """Index just after the last key line of ``section``, or None if absent."""
    current: str | None = None
    end: int | None = None
    for position, line in enumerate(lines):
        if line.section is not None:
            current = line.section.lower()
            if current == section.lower() and end is None:
                end = position + 1
        elif line.key is not None and current == section.lower():
            end = position + 1
    return end


def _build(lines: list[Line], *, newline: str, bom: bool, final_newline: bool, source: str = "definfo.dat") -> Definfo:
    index: dict[tuple[str, str], int] = {}
    section: str | None = None
    for position, line in enumerate(lines):
        if line.section is not None:
            section = line.section.lower()
        elif line.key is not None:
            if section is None:
                raise DefinfoError(source, position + 1, f"key '{line.key}' comes before any [section]")
            slot = (section, line.key.lower())
            if slot in index and section == DEFDATES.lower():
                raise DefinfoError(source, position + 1, f"key '{line.key}' appears twice in [{DEFDATES}]: the active set is ambiguous")
            index.setdefault(slot, position)
    return Definfo(lines=tuple(lines), newline=newline, bom=bom, final_newline=final_newline, _index=index)


def parse_definfo(data: bytes, *, source: str = "definfo.dat") -> Definfo:
    """Parse the bytes of a ``definfo.dat``; raise :class:`DefinfoError` naming the line."""
    bom = data.startswith(BOM)
    if bom:
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DefinfoError(source, line, "is not text (invalid byte); the file is damaged: restore it from a good store") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DefinfoError(source, line, "contains a NUL byte; the file is damaged: restore it from a good store")
    newline = "\r\n" if "\r\n" in text or not text else "\n"
    final_newline = text.endswith("\n")
    raw_lines = text.split("\n")
    if final_newline:
        raw_lines.pop()
    lines: list[Line] = []
    section: str | None = None
    for number, raw in enumerate(raw_lines, start=1):
        content = raw
        if newline == "\r\n":
            if not raw.endswith("\r") and (number < len(raw_lines) or final_newline):
                raise DefinfoError(source, number, "mixes LF and CRLF line endings")
            content = raw.removesuffix("\r")
        if "\r" in content:
            raise DefinfoError(source, number, "contains a stray carriage return")
        lines.append(_parse_line(content, number, section, source))
        if lines[-1].section is not None:
            section = lines[-1].section
    return _build(lines, newline=newline, bom=bom, final_newline=final_newline, source=source)


def _parse_line(raw: str, number: int, section: str | None, source: str) -> Line:
    if not raw.strip() or _COMMENT.match(raw):
        return Line(text=raw)
    match = _SECTION.match(raw)
    if match:
        return Line(text=raw, section=match.group("name").strip())
    match = _KEY.match(raw)
    if match:
        if section is None:
            raise DefinfoError(source, number, f"key '{match.group('key')}' comes before any [section]")
        return Line(text=raw, key=match.group("key"), value=match.group("value"))
    raise DefinfoError(source, number, f"cannot read {raw.strip()[:60]!r}: expected [Section], key=value, a ; comment or a blank line")


def render_definfo(info: Definfo) -> bytes:
    """The bytes of ``info``: identical to the input for an unchanged parse."""
    text = info.newline.join(line.text for line in info.lines)
    if info.final_newline and info.lines:
        text += info.newline
    return (BOM if info.bom else b"") + text.encode("utf-8")


def new_definfo(cur_defs: str) -> Definfo:
    """A fresh ``definfo.dat`` naming ``cur_defs``, written the way SMSMSE writes it."""
    return Definfo().with_value(DEFDATES, CUR_DEFS, cur_defs)
