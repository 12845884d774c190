"""Structural rules for a set, and safe paths inside a set: one test per error code."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import DirRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import manifest, structure

TODAY = dt.date(2026, 11, 26)
REQUIRED = structure.DEFAULT_REQUIRED_FILES
SHA = "a" * 64


def file(path: str, size: int = 10, link: bool = False, sha256: str | None = SHA) -> dict[str, Any]:
    return {"path": path, "size": size, "mtime": 1.0, "link": link, "sha256": sha256}


def folder_of(record: dict[str, Any]) -> snapshot.SetFolder:
    """A set folder from a record shaped as the agent sends one (the tests also give it records the schema would refuse)."""
    return snapshot.set_folder(cast(DirRecord, record))


def sound_files() -> list[dict[str, Any]]:
    return [file("virscan1.dat"), file("naveng32.dll"), file("navex32a.dll"), file("catalog.dat"), file("zdone.dat", size=0)]


def codes(
    files: list[dict[str, Any]], name: str = "20261125.003", link: bool = False, truncated: bool = False, hashed: bool = True
) -> list[str]:
    folder = {"name": name, "link": link, "mtime": 1.0, "files": files, "truncated": truncated}
    found = structure.check_set(
        folder_of(folder), where=f"/s/{name}", join=lambda *p: "/".join(p), required_files=REQUIRED, hashed=hashed, today=TODAY
    )
    return [p.code for p in found]


def test_sound_set_has_no_problem_and_an_empty_marker_is_fine() -> None:
    assert codes(sound_files()) == []


def test_required_files_are_case_insensitive() -> None:
    files = [dict(f, path=f["path"].upper()) for f in sound_files()]
    assert codes(files) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda fs: [f for f in fs if f["path"] != "zdone.dat"], ["SET_MARKER_MISSING"]),
        (lambda fs: [f for f in fs if f["path"] != "naveng32.dll"], ["SET_REQUIRED_FILE_MISSING"]),
        (lambda fs: [*fs, file("virscan2.dat", size=0)], ["SET_FILE_EMPTY"]),
        (lambda fs: [*fs, file("virscan2.dat.tmp")], ["SET_TEMPORARY_FILE"]),
        (lambda fs: [*fs, file("~virscan2.dat")], ["SET_TEMPORARY_FILE"]),
        (lambda fs: [*fs, file("sub/virscan2.partial")], ["SET_TEMPORARY_FILE"]),
        (lambda fs: [*fs, file(".smsmse-copy")], ["SET_TEMPORARY_FILE"]),
        (lambda fs: [*fs, file("escape", size=0, link=True, sha256=None)], ["SET_LINK"]),
        (lambda fs: [*fs, file("virscan2.dat", sha256=None)], ["SET_FILE_UNREADABLE"]),
        (lambda fs: [*fs, file("a:stream")], ["SET_PATH_UNSAFE"]),
        (lambda fs: [*fs, file("VIRSCAN1.DAT")], ["SET_NAME_COLLISION"]),
        (lambda fs: [*fs, file("Sub/A.dat"), file("sub/a.DAT")], ["SET_NAME_COLLISION"]),
        (lambda fs: [*fs, file("virscan1.dat.")], ["SET_NAME_COLLISION", "SET_PATH_UNSAFE"]),
        (lambda fs: [*fs, file("virscan1.dat ")], ["SET_NAME_COLLISION", "SET_PATH_UNSAFE"]),
    ],
)
def test_each_rule(change: Any, expected: list[str]) -> None:
    assert codes(change(sound_files())) == expected


@pytest.mark.parametrize(
    ("names", "collide"),
    [
        (["virscan1.dat", "VIRSCAN1.DAT"], True),
        (["virscan1.dat", "ViRsCaN1.dAt"], True),
        (["virscan1.dat", "VIRSCAN1.DAT."], True),
        (["virscan1.dat", "virscan1.dat . "], True),
        (["sub/a.dat", "SUB./A.DAT"], True),
        (["\u00e9t\u00e9.dat", "\u00c9T\u00c9.DAT"], True),  # été / ÉTÉ: one simple upper case each
        (["stra\u00dfe.dat", "STRASSE.DAT"], False),  # ß has no one-character upper case: NTFS keeps it
        (["stra\u00dfe.dat", "strasse.dat"], False),
        (["\ufb01le.dat", "FILE.DAT"], False),  # the ﬁ ligature likewise
        (["\u212a.dat", "k.dat"], False),  # the Kelvin sign is not K to NTFS
    ],
)
def test_names_collide_as_ntfs_compares_them(names: list[str], collide: bool) -> None:
    """NTFS compares names by its upcase table, one character for one, not by Unicode case folding."""
    assert (structure.collisions(names) == [sorted(names)]) is collide
    assert ("SET_NAME_COLLISION" in codes([*sound_files(), *(file(n) for n in names if n != "virscan1.dat")])) is collide


def test_required_files_are_found_as_ntfs_compares_names() -> None:
    files = [file("ZDONE.DAT", size=0), file("VIRSCAN1.DAT"), file("naveng32.dll"), file("navex32a.dll")]
    assert codes(files) == []
    folder = {"name": "20261125.003", "link": False, "mtime": 1.0, "files": [*files, file("stra\u00dfe.dat")], "truncated": False}
    found = structure.check_set(
        folder_of(folder), where="/s", join=lambda *p: "/".join(p), required_files=["STRASSE.DAT"], hashed=True, today=TODAY
    )
    assert [p.code for p in found] == ["SET_REQUIRED_FILE_MISSING"]


def test_a_file_that_changed_while_read_is_not_good_and_says_so() -> None:
    folder: dict[str, Any] = {"name": "20261125.003", "link": False, "mtime": 1.0, "truncated": False}
    folder["files"] = [*sound_files(), dict(file("virscan2.dat", sha256=None), changed=True)]
    found = structure.check_set(
        folder_of(folder), where="/s", join=lambda *p: "/".join(p), required_files=REQUIRED, hashed=True, today=TODAY
    )
    assert [p.code for p in found] == ["SET_FILE_UNREADABLE"]
    assert "changed while it was read" in found[0].message


def test_unhashed_listing_does_not_claim_unreadable_files() -> None:
    assert codes([dict(f, sha256=None) for f in sound_files()], hashed=False) == []


@pytest.mark.parametrize(("name", "reason"), [("20261301.001", "calendar"), ("20991231.001", "future")])
def test_invalid_version_name(name: str, reason: str) -> None:
    assert codes(sound_files(), name=name) == ["SET_NAME_INVALID"]


def test_linked_set_folder_is_not_looked_into() -> None:
    assert codes([], link=True) == ["SET_LINK"]


def test_truncated_listing() -> None:
    assert codes(sound_files(), truncated=True) == ["SET_TOO_MANY_FILES"]


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "a/../../x",
        "..\\x",
        "a\\b",
        "/etc/passwd",
        "C:/Windows/x",
        "c:x",
        "\\\\server\\share\\x",
        "//server/share",
        "a//b",
        "./a",
        "a/.",
        "",
        "a\x00b",
        "a ",
        "a.",
    ],
)
def test_unsafe_paths(path: str) -> None:
    assert manifest.unsafe_path(path) is not None


@pytest.mark.parametrize("path", ["virscan1.dat", "sub/dir/file.dat", "V.GRD", "a b.dat", "name.with.dots"])
def test_safe_paths(path: str) -> None:
    assert manifest.unsafe_path(path) is None


#: names Windows opens as a device, whatever the folder: an attacker's file so named is never the file it seems
RESERVED = [
    "CON",
    "con",
    "Prn",
    "aux",
    "NUL",
    "NUL.txt",
    "con.dat",
    "nul.tar.gz",
    "COM1",
    "com9.dat",
    "LPT1",
    "lpt9",
    "COM\u00b9",
    "com\u00b2.dat",
    "LPT\u00b3",
    "NUL .dat",
    "sub/AUX.dat",
    "nul/virscan2.dat",
]


@pytest.mark.parametrize("path", RESERVED)
def test_windows_device_names_are_unsafe(path: str) -> None:
    assert manifest.unsafe_path(path) is not None
    assert ntfs.reserved_part(path) is not None


@pytest.mark.parametrize("path", RESERVED)
def test_a_set_holding_a_device_name_is_bad(path: str) -> None:
    assert codes([*sound_files(), file(path)]) == ["SET_NAME_RESERVED"]


@pytest.mark.parametrize("path", ["nul.", "CON ", "com1.dat.", "lpt1 . "])
def test_device_names_with_trailing_dots_and_spaces(path: str) -> None:
    assert ntfs.reserved_part(path) is not None
    assert "SET_NAME_RESERVED" in codes([*sound_files(), file(path)])


@pytest.mark.parametrize("path", ["console.dat", "nul1", "com10", "lpt", "com", "auxiliary.dat", "xnul.dat", "COM\u2074", "a.con"])
def test_names_near_device_names_are_fine(path: str) -> None:
    assert ntfs.reserved_part(path) is None
    assert manifest.unsafe_path(path) is None


def test_digest_depends_on_every_field_but_not_order_or_case() -> None:
    base = {"a.dat": manifest.Entry(1, SHA), "b.dat": manifest.Entry(2, "b" * 64)}
    digest = manifest.digest(base)
    assert digest == manifest.digest(dict(reversed(list(base.items()))))
    assert digest == manifest.digest({"A.DAT": base["a.dat"], "b.dat": base["b.dat"]})
    assert digest != manifest.digest({**base, "a.dat": manifest.Entry(3, SHA)})
    assert digest != manifest.digest({**base, "a.dat": manifest.Entry(1, "c" * 64)})
    assert digest != manifest.digest({"c.dat": base["a.dat"], "b.dat": base["b.dat"]})
    assert digest != manifest.digest(base | {"c.dat": manifest.Entry(0, SHA)})


def test_digest_of_names_distinct_on_ntfs_does_not_depend_on_listing_order() -> None:
    # names that fold to one key but are two files on NTFS: the set is sound, so its digest votes and must be stable
    entries = [("stra\u00dfe.dat", manifest.Entry(1, SHA)), ("STRASSE.DAT", manifest.Entry(2, "b" * 64))]
    assert manifest.digest(dict(entries)) == manifest.digest(dict(reversed(entries)))
    swapped = [("stra\u00dfe.dat", manifest.Entry(2, "b" * 64)), ("STRASSE.DAT", manifest.Entry(1, SHA))]
    assert manifest.digest(dict(entries)) != manifest.digest(dict(swapped))


def test_manifest_needs_every_digest() -> None:
    assert manifest.from_files([file("a.dat"), file("b.dat", sha256=None)]) is None
    assert manifest.from_files([file("a.dat")]) == {"a.dat": manifest.Entry(10, SHA)}
