from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import (
    BOM,
    DefinfoError,
    new_definfo,
    parse_definfo,
    render_definfo,
)

SAMPLE = b"; written by LiveUpdate\r\n[DefDates]\r\nCurDefs=20121215.003\r\nLastDefs=20121214.001\r\n\r\n[Other]\r\nKeep=me\r\n"


def test_reads_the_pointer() -> None:
    info = parse_definfo(SAMPLE)
    assert info.cur_defs == "20121215.003"
    assert info.last_defs == "20121214.001"
    assert info.get("defdates", "curdefs") == "20121215.003"


def test_round_trip_is_byte_exact() -> None:
    assert render_definfo(parse_definfo(SAMPLE)) == SAMPLE


def test_change_touches_one_line_only() -> None:
    changed = render_definfo(parse_definfo(SAMPLE).with_value("DefDates", "CurDefs", "20121216.001"))
    assert changed == SAMPLE.replace(b"CurDefs=20121215.003", b"CurDefs=20121216.001")


def test_missing_key_is_added_to_its_section() -> None:
    data = b"[DefDates]\r\nLastDefs=20121214.001\r\n[Other]\r\nKeep=me\r\n"
    changed = render_definfo(parse_definfo(data).with_value("DefDates", "CurDefs", "20121216.001"))
    assert changed == b"[DefDates]\r\nLastDefs=20121214.001\r\nCurDefs=20121216.001\r\n[Other]\r\nKeep=me\r\n"


def test_missing_section_is_appended() -> None:
    data = b"[Other]\r\nKeep=me"
    info = parse_definfo(data).with_value("DefDates", "CurDefs", "20121216.001")
    assert render_definfo(info) == b"[Other]\r\nKeep=me\r\n\r\n[DefDates]\r\nCurDefs=20121216.001"
    assert parse_definfo(render_definfo(info)).cur_defs == "20121216.001"


def test_new_file_is_crlf() -> None:
    assert render_definfo(new_definfo("20121215.003")) == b"[DefDates]\r\nCurDefs=20121215.003\r\n"


def test_bom_and_lf_are_kept() -> None:
    data = BOM + b"[DefDates]\nCurDefs=20121215.003\n"
    info = parse_definfo(data)
    assert info.cur_defs == "20121215.003"
    assert render_definfo(info.with_value("DefDates", "CurDefs", "20121216.001")) == BOM + b"[DefDates]\nCurDefs=20121216.001\n"


def test_empty_pointer_is_none() -> None:
    assert parse_definfo(b"[DefDates]\r\nCurDefs=\r\n").cur_defs is None
    assert parse_definfo(b"").cur_defs is None


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (b"[DefDates]\r\nCurDefs=20121215.003\r\nnot ini\r\n", 3, "cannot read 'not ini'"),
        (b"CurDefs=20121215.003\r\n", 1, "comes before any"),
        (b"[DefDates]\r\nCurDefs=1\r\ncurdefs=2\r\n", 3, "appears twice"),
        (b"[DefDates]\r\nCurDefs=1\nLastDefs=2\r\n", 2, "mixes LF and CRLF"),
        (b"[DefDates]\r\nCurDefs=\x81\r\n", 2, "is not text"),
        (b"[DefDates]\r\nCur\x00Defs=1\r\n", 2, "NUL byte"),
        (b"[DefDates\r\n", 1, "cannot read"),
    ],
)
def test_malformed_names_file_and_line(data: bytes, line: int, problem: str) -> None:
    with pytest.raises(DefinfoError, match=problem) as caught:
        parse_definfo(data, source=r"C:\defs\definfo.dat")
    assert caught.value.line == line
    assert str(caught.value).startswith(rf"C:\defs\definfo.dat line {line}: ")


# --- properties: whatever is parsed renders back unchanged, and a change keeps everything else ---

_name = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.", min_size=1, max_size=12)
_value = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\r\n"), max_size=30)


@st.composite
def texts(draw: st.DrawFn, value: st.SearchStrategy[str] = _value) -> str:
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    comment = st.builds(lambda mark, text: mark + text, st.sampled_from([";", "#", "  ;"]), value)
    lines = draw(st.lists(comment, max_size=2))
    sections = draw(st.lists(_name, min_size=1, max_size=4, unique_by=str.lower))
    for section in sections:
        lines.append(f"[{section}]")
        keys = draw(st.lists(_name, max_size=4, unique_by=str.lower))
        for key in keys:
            lines.append(f"{key}={draw(value)}")
        lines.extend(draw(st.lists(st.one_of(comment, st.just("")), max_size=3)))
    return newline.join(lines) + (newline if draw(st.booleans()) else "")


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    return (BOM if draw(st.booleans()) else b"") + draw(texts()).encode("utf-8")


_ANSI = sorted({bytes([b]).decode("cp1252", "ignore") for b in range(0x20, 0x100) if b != 0x7F} - {""})

#: how Windows tools write definfo.dat: (name, encoding, byte-order mark, the characters its text may hold)
_WRITERS = (
    ("utf-8", "utf-8", b"", _value),
    ("utf-8 with BOM", "utf-8", BOM, _value),
    ("utf-16-le with BOM", "utf-16-le", b"\xff\xfe", _value),
    ("utf-16-be with BOM", "utf-16-be", b"\xfe\xff", _value),
    # without a BOM, UTF-16 is told by its NUL bytes: text mostly of characters below U+0100, as real files are
    ("utf-16-le", "utf-16-le", b"", st.text(alphabet=[chr(c) for c in range(0x20, 0x100) if c != 0x7F], max_size=30)),
    ("cp1252", "cp1252", b"", st.text(alphabet=_ANSI, max_size=30)),
)


@st.composite
def encoded_documents(draw: st.DrawFn) -> tuple[bytes, str, bool]:
    _name, encoding, mark, value = draw(st.sampled_from(_WRITERS))
    return mark + draw(texts(value)).encode(encoding), encoding, bool(mark)


@given(documents())
def test_render_of_parse_is_identity(data: bytes) -> None:
    assert render_definfo(parse_definfo(data)) == data


def _is_subsequence(needle: list[str], haystack: list[str]) -> bool:
    remaining = iter(haystack)
    return all(item in remaining for item in needle)


@given(documents(), st.from_regex(r"\A[0-9]{8}\.[0-9]{3}\Z"))
def test_change_keeps_every_other_line(data: bytes, version: str) -> None:
    before = parse_definfo(data)
    after = parse_definfo(render_definfo(before.with_value("DefDates", "CurDefs", version)))
    assert after.cur_defs == version
    untouched = [line.text for line in before.lines if line.key is None or line.key.lower() != "curdefs"]
    assert _is_subsequence(untouched, [line.text for line in after.lines])
    for line in before.lines:
        if line.key is not None and line.key.lower() != "curdefs":
            assert line.text in [other.text for other in after.lines]
    assert (after.bom, after.newline) == (before.bom, before.newline)


@given(encoded_documents())
def test_every_windows_encoding_renders_back_unchanged(document: tuple[bytes, str, bool]) -> None:
    data, encoding, bom = document
    info = parse_definfo(data)
    assert render_definfo(info) == data
    assert info.bom == bom
    if encoding != "cp1252":  # cp1252 text that is also valid UTF-8 is read as UTF-8: the same bytes either way
        assert info.encoding == encoding


@given(encoded_documents(), st.from_regex(r"\A[0-9]{8}\.[0-9]{3}\Z"))
def test_a_change_keeps_the_encoding_and_every_other_line(document: tuple[bytes, str, bool], version: str) -> None:
    data, _encoding, _bom = document
    before = parse_definfo(data)
    rendered = render_definfo(before.with_value("DefDates", "CurDefs", version).with_value("DefDates", "LastDefs", version))
    after = parse_definfo(rendered)
    assert (after.cur_defs, after.last_defs) == (version, version)
    assert (after.encoding, after.bom, after.newline) == (before.encoding, before.bom, before.newline)
    changed = {"curdefs", "lastdefs"}
    untouched = [line.text for line in before.lines if line.key is None or line.key.lower() not in changed]
    assert _is_subsequence(untouched, [line.text for line in after.lines])


_WINDOWS_FILE = "; Écrit par LiveUpdate\r\n[DefDates]\r\nCurDefs=20121215.003\r\nLastDefs=20121214.001\r\n[Other]\r\nKeep=me\r\n"


@pytest.mark.parametrize(
    ("mark", "encoding"),
    [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"", "utf-16-le"), (b"", "cp1252"), (BOM, "utf-8")],
)
def test_windows_files_are_read_and_only_the_pointer_line_changes(mark: bytes, encoding: str) -> None:
    data = mark + _WINDOWS_FILE.encode(encoding)
    info = parse_definfo(data)
    assert (info.cur_defs, info.last_defs, info.get("Other", "Keep")) == ("20121215.003", "20121214.001", "me")
    changed = render_definfo(info.with_value("DefDates", "CurDefs", "20121216.001"))
    assert changed == mark + _WINDOWS_FILE.replace("CurDefs=20121215.003", "CurDefs=20121216.001").encode(encoding)


def test_a_stray_nul_in_8_bit_text_is_damage_not_utf16() -> None:
    with pytest.raises(DefinfoError, match="NUL byte"):
        parse_definfo(b"[DefDates]\r\nCurDefs=20121215.003\x00\r\n")
