from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import (
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
        (b"[DefDates]\r\nCurDefs=\xff\r\n", 2, "is not text"),
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
_comment = st.builds(lambda mark, text: mark + text, st.sampled_from([";", "#", "  ;"]), _value)
_filler = st.one_of(_comment, st.just(""))


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    lines = draw(st.lists(_comment, max_size=2))
    sections = draw(st.lists(_name, min_size=1, max_size=4, unique_by=str.lower))
    for section in sections:
        lines.append(f"[{section}]")
        keys = draw(st.lists(_name, max_size=4, unique_by=str.lower))
        for key in keys:
            lines.append(f"{key}={draw(_value)}")
        lines.extend(draw(st.lists(_filler, max_size=3)))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    data = (BOM if draw(st.booleans()) else b"") + text.encode("utf-8")
    return data


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
