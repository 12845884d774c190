"""``definfo.dat``: the INI file whose ``[DefDates]`` section names a store's active set.

Parsing keeps every line as written, so rendering what was parsed gives the
same bytes back; a change rewrites only the one key line it touches. Unknown
sections, keys and comments survive, and so do the file's encoding, newline
style, byte-order mark and the presence or absence of a final newline.

The encodings are those Windows tools write (:data:`ENCODINGS`): UTF-8 with or
without a byte-order mark, UTF-16 LE or BE with one, UTF-16 without one
(recognised by its NUL bytes, which no text file in the other encodings holds),
and the ANSI code page cp1252 when the bytes are not UTF-8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFDATES = "DefDates"
CUR_DEFS = "CurDefs"
LAST_DEFS = "LastDefs"

BOM = b"\xef\xbb\xbf"
#: byte-order mark -> the encoding it announces
BOMS: tuple[tuple[bytes, str], ...] = ((BOM, "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))
#: the encodings read, in the order they are tried when no byte-order mark says which
ENCODINGS: tuple[str, ...] = ("utf-16-le", "utf-16-be", "utf-8", "cp1252")
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
    encoding: str = "utf-8"
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
        return _build(lines, newline=self.newline, bom=self.bom, final_newline=self.final_newline or not self.lines, encoding=self.encoding)


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


def _build(
    lines: list[Line], *, newline: str, bom: bool, final_newline: bool, encoding: str = "utf-8", source: str = "definfo.dat"
) -> Definfo:
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
    return Definfo(lines=tuple(lines), newline=newline, bom=bom, final_newline=final_newline, encoding=encoding, _index=index)


def decode(data: bytes, *, source: str = "definfo.dat") -> tuple[str, str, bool]:
    """The text of ``data``, its encoding and whether it starts with a byte-order mark; raise :class:`DefinfoError`."""
    for mark, encoding in BOMS:
        if data.startswith(mark):
            try:
                return _text(data[len(mark) :].decode(encoding), source), encoding, True
            except UnicodeDecodeError:
                raise DefinfoError(source, None, f"starts with a {encoding} byte-order mark but is not {encoding} text") from None
    for encoding in _guesses(data):
        try:
            return _text(data.decode(encoding), source), encoding, False
        except UnicodeDecodeError:
            continue
    line = data.count(b"\n", 0, next((i for i, b in enumerate(data) if b in _CP1252_UNDEFINED), len(data))) + 1
    raise DefinfoError(source, line, "is not text (invalid byte); the file is damaged: restore it from a good store")


#: bytes cp1252 leaves undefined: a file holding one is not ANSI text
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _guesses(data: bytes) -> list[str]:
    """Encodings to try for ``data`` without a byte-order mark: UTF-16 first when its NUL bytes say so.

    Text in UTF-16 holds a NUL in at least every other unit when it is mostly ASCII, as
    definfo.dat is; one stray NUL in 8-bit text does not make it UTF-16 (it is damage).
    """
    units = len(data) // 2
    if units and not len(data) % 2 and b"\x00" in data:
        if data[1::2].count(0) * 2 >= units:
            return ["utf-16-le", "utf-8", "cp1252"]
        if data[0::2].count(0) * 2 >= units:
            return ["utf-16-be", "utf-8", "cp1252"]
    return ["utf-8", "cp1252"]


def _text(text: str, source: str) -> str:
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise DefinfoError(source, line, "contains a NUL byte; the file is damaged: restore it from a good store")
    return text


def parse_definfo(data: bytes, *, source: str = "definfo.dat") -> Definfo:
    """Parse the bytes of a ``definfo.dat``; raise :class:`DefinfoError` naming the line."""
    text, encoding, bom = decode(data, source=source)
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
    return _build(lines, newline=newline, bom=bom, final_newline=final_newline, encoding=encoding, source=source)


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
    """The bytes of ``info``, in its own encoding: identical to the input for an unchanged parse."""
    text = info.newline.join(line.text for line in info.lines)
    if info.final_newline and info.lines:
        text += info.newline
    mark = next(mark for mark, encoding in BOMS if encoding == info.encoding) if info.bom else b""
    return mark + text.encode(info.encoding)


def new_definfo(cur_defs: str) -> Definfo:
    """A fresh ``definfo.dat`` naming ``cur_defs``, written the way SMSMSE writes it."""
    return Definfo().with_value(DEFDATES, CUR_DEFS, cur_defs)
