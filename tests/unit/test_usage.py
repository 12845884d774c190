"""usage.dat: parsed as written, moved without loss, hostile content reported and never rewritten."""

from __future__ import annotations

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import usage
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import UsageFile

OLD, NEW, BAD = "20121214.002", "20121215.003", "20121216.001"
ARTICLE = f"[{OLD}]\r\nNAVCORP_70=1\r\n[{NEW}]\r\nSMSMSE_65=1\r\n".encode()


def test_the_article_s_example_is_read_as_sets_and_codes() -> None:
    parsed = usage.parse(ARTICLE)
    assert parsed.sets() == {OLD: ["NAVCORP_70"], NEW: ["SMSMSE_65"]}
    assert parsed.render() == ARTICLE
    assert usage.foreign(parsed) == {OLD}


def test_moving_keeps_every_code_and_every_unknown_line() -> None:
    data = f"; written by LiveUpdate\r\n[{OLD}]\r\nNAVCORP_70=1\r\n[{BAD}]\r\nSMSMSE_65=1\r\n; note\r\nSAVCORP_10=1\r\n".encode()
    data += b"[Settings]\r\nX=1\r\n"
    moved = usage.parse(data).move({BAD}, OLD)
    assert moved.sets() == {OLD: ["NAVCORP_70", "SMSMSE_65", "SAVCORP_10"]}
    assert moved.products()["Settings"] == ["X"]
    text = moved.render().decode()
    assert text == f"; written by LiveUpdate\r\n[{OLD}]\r\nNAVCORP_70=1\r\nSMSMSE_65=1\r\n; note\r\nSAVCORP_10=1\r\n[Settings]\r\nX=1\r\n"
    assert f"[{BAD}]" not in text


def test_moving_to_a_set_without_a_section_adds_one_and_keeps_a_code_once() -> None:
    data = f"[{BAD}]\r\nSMSMSE_65=1\r\n[{OLD}]\r\nNAVCORP_70=1\r\n[{BAD}]\r\nSMSMSE_65=1\r\n".encode()
    parsed = usage.parse(data)
    assert parsed.sets() == {BAD: ["SMSMSE_65"], OLD: ["NAVCORP_70"]}  # a section written twice is one entry
    moved = parsed.move({BAD}, NEW)
    assert moved.render() == f"[{OLD}]\r\nNAVCORP_70=1\r\n[{NEW}]\r\nSMSMSE_65=1\r\n".encode()


def test_moving_nothing_gives_the_same_bytes() -> None:
    parsed = usage.parse(ARTICLE)
    assert parsed.move({"19990101.001"}, NEW).render() == ARTICLE


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbf" + ARTICLE, "utf-8"),
        (b"\xff\xfe" + ARTICLE.decode().encode("utf-16-le"), "utf-16-le"),
        (ARTICLE.replace(b"\r\n", b"\n"), "utf-8"),
    ],
)
def test_byte_order_mark_encoding_and_newlines_survive_a_move(data: bytes, encoding: str) -> None:
    parsed = usage.parse(data)
    assert parsed.encoding == encoding and parsed.sets() == {OLD: ["NAVCORP_70"], NEW: ["SMSMSE_65"]}
    assert parsed.render() == data
    moved = parsed.move({NEW}, OLD).render()
    assert moved.startswith(data[:2]) and usage.parse(moved).sets() == {OLD: ["NAVCORP_70", "SMSMSE_65"]}
    assert (b"\r\n" in moved or b"\r\x00\n" in moved) == (b"\r" in data)


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"[20121215.003]\r\nSMSMSE_65=1\x00\r\n", b"\xff\xfe\x00\xd8"])
def test_binary_content_is_refused(data: bytes) -> None:
    with pytest.raises(usage.UsageError):
        usage.parse(data)


def test_facts_report_sets_other_lines_and_errors_and_never_trust_a_file_they_could_not_read() -> None:
    data = f"junk before any section\r\n[{NEW}]\r\nSMSMSE_65=1\r\n".encode()
    found = usage.facts_of(UsageFile("file", len(data), "d" * 64, data, None))
    assert found is not None
    assert found["sets"] == {NEW: ["SMSMSE_65"]} and found["other_lines"] == ["junk before any section"] and found["error"] is None
    binary = usage.facts_of(UsageFile("file", 256, "d" * 64, bytes(range(256)), None))
    assert binary is not None and binary["sets"] == {} and "never rewritten" in (binary["error"] or "")
    huge = usage.facts_of(UsageFile("file", 10**8, "d" * 64, None, "usage.dat is 100000000 bytes, more than the agent reads"))
    assert huge is not None and (huge["error"] or "").startswith("usage.dat is 100000000 bytes")
    assert usage.facts_of(None) is None


def test_stale_sections_are_the_missing_and_bad_sets() -> None:
    parsed = usage.parse(f"[{OLD}]\r\nNAVCORP_70=1\r\n[{NEW}]\r\nSMSMSE_65=1\r\n[{BAD}]\r\nSAVCORP_10=1\r\n".encode())
    assert usage.stale(parsed, {OLD: "good", NEW: "bad"}) == {NEW: ["SMSMSE_65"], BAD: ["SAVCORP_10"]}
    assert usage.stale(parsed, {OLD: "good", NEW: "good", BAD: "unknown"}) == {}


def test_a_huge_file_parses_in_bounded_time() -> None:
    days = [(m, d, r) for m in range(1, 13) for d in range(1, 29) for r in range(1, 4)]
    lines = "".join(f"[2012{m:02d}{d:02d}.00{r}]\r\nPRODUCT_{m}{d}{r}=1\r\n" for m, d, r in days)
    parsed = usage.parse(lines.encode() * 20)
    assert len(parsed.sets()) == 12 * 28 * 3
    moved = parsed.move(set(list(parsed.sets())[:-1]), NEW)
    assert set(moved.sets()) == {NEW, list(parsed.sets())[-1]}
