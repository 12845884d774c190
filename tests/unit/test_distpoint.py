"""Sources on the controller: what a source is, which platform can use it, and the catalog it needs."""

from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import distpoint
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import manifest, structure
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.catalog import Catalog, CatalogSet
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
        ("https://defs.example.com/smsmse", True, True),
        ("\\\\server\\share\\smsmse", True, True),
        ("/srv/smsmse", True, False),
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


GOOD = {
    name: manifest.Entry(size, "a" * 64)
    for name, size in [("zdone.dat", 6), ("virscan1.dat", 10), ("naveng32.dll", 7), ("navex32a.dll", 7)]
}
BROKEN = {
    "20261120.001": {k: v for k, v in GOOD.items() if k != "zdone.dat"},  # no marker
    "20261121.001": {k: v for k, v in GOOD.items() if k != "naveng32.dll"},  # a required file missing
    "20261122.001": {**GOOD, "virscan1.dat": manifest.Entry(0, "a" * 64)},  # an empty file
    "20261123.001": {**GOOD, "virscan1.dat.tmp": manifest.Entry(5, "a" * 64)},  # a temporary file
    "20261124.001": {**GOOD, "VIRSCAN1.DAT": manifest.Entry(10, "a" * 64)},  # one name to Windows
}


def catalog_of(sets: dict[str, dict[str, manifest.Entry]]) -> Catalog:
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    return Catalog(1, expires, {v: CatalogSet("d", files) for v, files in sets.items()}, ("k",))


def test_catalog_entries_that_break_the_structure_rule_are_never_picked() -> None:
    trusted = catalog_of({"20261119.001": GOOD, **BROKEN})
    assert distpoint.importable(trusted, structure.DEFAULT_REQUIRED_FILES) == ["20261119.001"]
    assert distpoint.pick_version(trusted, "newest", structure.DEFAULT_REQUIRED_FILES) == "20261119.001"


@pytest.mark.parametrize("version", sorted(BROKEN))
def test_a_broken_catalog_entry_asked_for_is_refused_naming_the_problem(version: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.pick_version(catalog_of({"20261119.001": GOOD, **BROKEN}), version, structure.DEFAULT_REQUIRED_FILES)
    assert raised.value.code == "CATALOG_INVALID" and version in str(raised.value) and "structure" in str(raised.value)


def test_a_catalog_with_only_broken_entries_has_nothing_to_import() -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.pick_version(catalog_of(BROKEN), "newest", structure.DEFAULT_REQUIRED_FILES)
    assert raised.value.code == "VERSION_NOT_FOUND" and "20261124.001" in str(raised.value)


def test_an_outside_source_without_catalog_state_is_warned_about_naming_the_option() -> None:
    assert distpoint.replay_warnings(["liveupdate"], None, "defs_health_catalog_state") == []
    assert distpoint.replay_warnings(["/srv/smsmse"], "/var/lib/smsmse/catalog-state.json", "defs_health_catalog_state") == []
    (warning,) = distpoint.replay_warnings(["liveupdate", "https://dp.example.com/smsmse"], None, "defs_health_catalog_state")
    assert "`defs_health_catalog_state`" in warning and "https://dp.example.com/smsmse" in warning and "replay" in warning


@pytest.mark.parametrize("proxy", ["http://proxy.example.com:3128", "http://proxy.example.com/", None])
def test_a_proxy_for_windows_hosts(proxy: str | None) -> None:
    assert distpoint.check_proxy(proxy, windows=True) == proxy


@pytest.mark.parametrize(
    ("proxy", "words"),
    [
        ("http://user:s3cret@proxy.example.com:3128", "credentials"),
        ("proxy.example.com:3128", "http://host:port"),
        ("http://proxy.example.com:3128/path", "http://host:port"),
        ("http://user:s3cret@proxy.example.com:3128/path", "credentials"),
        ("socks5://proxy.example.com:1080", "http://host:port"),
        ("https://proxy.example.com:3128", "speaks plain HTTP to a proxy"),
    ],
)
def test_a_bad_proxy_is_refused_without_echoing_a_password(proxy: str, words: str) -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.check_proxy(proxy, windows=True, option="defs_health_source_proxy")
    assert raised.value.code == "OPTION_INVALID" and words in str(raised.value) and "`defs_health_source_proxy`" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_a_proxy_for_a_posix_host_is_refused() -> None:
    with pytest.raises(SmsmseError) as raised:
        distpoint.check_proxy("http://proxy.example.com:3128", windows=False)
    assert raised.value.code == "OPTION_INVALID" and "POSIX" in str(raised.value)
