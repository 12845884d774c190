"""Sources on the controller: what a source is, which platform can use it, and the catalog it needs."""

from __future__ import annotations

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import distpoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("liveupdate", "liveupdate"),
        ("https://defs.example.com/smsmse", "url"),
        ("HTTP://127.0.0.1:8080/", "url"),
        ("\\\\server\\share\\smsmse", "unc"),
        ("/srv/smsmse", "folder"),
    ],
)
def test_kinds(source: str, kind: str) -> None:
    assert distpoint.kind(source) == kind


@pytest.mark.parametrize("source", ["LiveUpdate", "srv/smsmse", "ftp://host/x", "https://", "\\\\server", ""])
def test_anything_else_is_refused_naming_it(source: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.kind(source)
    assert raised.value.code == "OPTION_INVALID" and repr(source) in str(raised.value)


def test_an_outside_source_needs_the_catalog_option_named() -> None:
    distpoint.require_catalog(["liveupdate"], False, "defs_health_catalog")  # LiveUpdate alone needs none
    distpoint.require_catalog(["liveupdate", "/srv/smsmse"], True, "defs_health_catalog")
    with pytest.raises(SmsmseError) as raised:
        distpoint.require_catalog(["liveupdate", "https://defs.example.com/smsmse"], False, "defs_health_catalog")
    assert raised.value.code == "CATALOG_REQUIRED"
    assert "`defs_health_catalog`" in str(raised.value) and "https://defs.example.com/smsmse" in str(raised.value)


@pytest.mark.parametrize(
    ("source", "windows", "allowed"),
    [
        ("https://defs.example.com/smsmse", False, True),
        ("/srv/smsmse", False, True),
        ("\\\\server\\share\\smsmse", False, False),
        ("https://defs.example.com/smsmse", True, False),
        ("\\\\server\\share\\smsmse", True, False),
        ("liveupdate", True, True),
    ],
)
def test_platforms(source: str, windows: bool, allowed: bool) -> None:
    if allowed:
        assert distpoint.check_platform(source, windows=windows) == distpoint.kind(source)
        return
    with pytest.raises(SmsmseError) as raised:
        distpoint.check_platform(source, windows=windows)
    assert raised.value.code == "SOURCE_NOT_SUPPORTED" and source in str(raised.value)


def test_set_locations() -> None:
    assert distpoint.set_location("https://h/smsmse/", "20261125.003") == "https://h/smsmse/20261125.003"
    assert distpoint.set_location("/srv/smsmse", "20261125.003") == "/srv/smsmse/20261125.003"
    assert distpoint.set_location("\\\\s\\share\\", "20261125.003") == "\\\\s\\share\\20261125.003"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("https://user:s3cret@defs.example.com/smsmse", "credentials"),
        ("https://user@defs.example.com/smsmse", "credentials"),
        ("https://defs.example.com/smsmse?token=s3cret", "query"),
        ("https://defs.example.com/smsmse#top", "fragment"),
    ],
)
def test_a_url_with_credentials_or_a_query_is_refused_without_echoing_it(source: str, words: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.kind(source, option="defs_health_sources")
    text = str(raised.value)
    assert raised.value.code == "OPTION_INVALID" and words in text and "`defs_health_sources`" in text
    assert "s3cret" not in text and "defs.example.com" in text
