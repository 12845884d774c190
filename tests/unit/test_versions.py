from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.versions import (
    SetVersion,
    VersionError,
    is_version,
    newest,
    parse_version,
)

TODAY = dt.date(2026, 11, 26)


def test_parses_date_and_revision() -> None:
    version = parse_version("20121215.003", today=TODAY)
    assert version == SetVersion(dt.date(2012, 12, 15), 3)
    assert str(version) == "20121215.003"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2012121.003", "expected YYYYMMDD.RRR"),
        ("20121215.03", "expected YYYYMMDD.RRR"),
        ("20121215.0031", "expected YYYYMMDD.RRR"),
        ("20121215-003", "expected YYYYMMDD.RRR"),
        (" 20121215.003", "expected YYYYMMDD.RRR"),
        ("20121315.001", "not a calendar date"),
        ("20230229.001", "not a calendar date"),
        ("20121200.001", "not a calendar date"),
        ("20261129.001", "dated in the future"),
    ],
)
def test_rejects_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(VersionError, match=problem):
        parse_version(text, today=TODAY)
    assert not is_version(text, today=TODAY)


def test_small_future_tolerance() -> None:
    assert parse_version("20261128.001", today=TODAY) == SetVersion(dt.date(2026, 11, 28), 1)


def test_leap_day_is_a_date() -> None:
    assert parse_version("20240229.001", today=TODAY).date == dt.date(2024, 2, 29)


def test_orders_by_date_then_revision() -> None:
    texts = ["20121216.001", "20121215.010", "20121215.002", "20111231.999"]
    ordered = sorted(texts, key=lambda t: parse_version(t, today=TODAY))
    assert ordered == ["20111231.999", "20121215.002", "20121215.010", "20121216.001"]


def test_newest_ignores_invalid_names() -> None:
    assert newest(["20121215.002", "junk", "20121215.010", "20991231.001"], today=TODAY) == "20121215.010"
    assert newest(["junk"], today=TODAY) is None


FULL_WIDTH = {ord("0") + i: 0xFF10 + i for i in range(10)}
ARABIC_INDIC = {ord("0") + i: 0x0660 + i for i in range(10)}
ODD_NAMES = [
    "20261126.004\n",
    "20261126.004".translate(FULL_WIDTH),
    "20261126.004 ",
    " 20261126.004",
    "20261126.004\r\n",
    "20261126.004".translate(ARABIC_INDIC),
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_a_version_is_ascii_digits_matched_whole(name: str) -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions

    assert not is_version(name, today=TODAY)
    assert not versions.looks_like_version(name)
    assert versions.lookalike(name)
    with pytest.raises(VersionError, match="is not a set version"):
        parse_version(name, today=TODAY)
    assert newest([name, "20261125.001"], today=TODAY) == "20261125.001"


@pytest.mark.parametrize("name", ODD_NAMES)
def test_every_schema_refuses_an_odd_version(name: str) -> None:
    import json
    from pathlib import Path

    import jsonschema

    root = Path(__file__).resolve().parents[2] / "schemas"
    found = 0

    def walk(node: object) -> None:
        nonlocal found
        if isinstance(node, dict):
            if "[0-9]{8}" in str(node.get("pattern", "")):
                found += 1
                validator = jsonschema.Draft202012Validator(node)
                assert validator.is_valid("20261126.004") and not validator.is_valid(name), node
            assert "\\d" not in str(node.get("pattern", "")), node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in root.rglob("*.json"):
        walk(json.loads(path.read_text(encoding="utf-8")))
    assert found >= 3  # apply's version and folder names, and the catalog's or report's versions
