"""The lab's faults: each damages a healthy lab host in one named way (:data:`FAULTS`). Lab only: never used for a
real host."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab.lab_files import (
    DEFAULT_FILES,
    MARKER,
    OTHER_CODE,
    SMSMSE_CODE,
    SOURCES,
    STORES,
    write_definfo,
    write_set,
    write_usage,
)

Fault = Callable[[Path, list[str], list[tuple[int, dt.datetime, str]]], None]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_newest(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in SOURCES:
        _flip(host / store / versions[-1] / DEFAULT_FILES[0][0])


def _truncated_file(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in SOURCES:
        target = host / store / versions[-1] / DEFAULT_FILES[1][0]
        target.write_bytes(target.read_bytes()[: DEFAULT_FILES[1][1] // 3])


def _missing_marker(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in SOURCES:
        (host / store / versions[-1] / MARKER).unlink()


def _stale_csapi(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    csapi = host / "csapi"
    shutil.rmtree(csapi)
    csapi.mkdir()
    write_set(csapi, versions[0])
    write_definfo(csapi, versions[0])


def _corrupt_active_csapi(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    _flip(host / "csapi" / versions[-1] / DEFAULT_FILES[0][0])


def _all_corrupt(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in STORES:
        for folder in (host / store).iterdir():
            if folder.is_dir():
                _flip(folder / DEFAULT_FILES[0][0])


def _empty_stores(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in STORES:
        shutil.rmtree(host / store)
        (host / store).mkdir()


def _malformed_definfo(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    (host / "csapi" / "definfo.dat").write_bytes(b"[DefDates]\r\nCurDefs=" + versions[-1].encode() + b"\r\nthis line is not ini\r\n")


def tamper_keep_mtime(path: Path) -> None:
    """Rewrite bytes of ``path`` in place (same size, same inode), then set its modification time back."""
    before = path.stat()
    middle = before.st_size // 2
    flipped = bytes(b ^ 0xFF for b in path.read_bytes()[middle : middle + 16])
    with path.open("r+b") as handle:
        handle.seek(middle)
        handle.write(flipped)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _truncated_csapi(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    target = host / "csapi" / versions[-1] / DEFAULT_FILES[0][0]
    target.write_bytes(target.read_bytes()[: DEFAULT_FILES[0][1] // 3])


def _tampered_csapi(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    tamper_keep_mtime(host / "csapi" / versions[-1] / DEFAULT_FILES[0][0])


def _case_collision(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in SOURCES:
        (host / store / versions[-1] / DEFAULT_FILES[0][0].upper()).write_bytes(b"not what the vendor shipped\r\n" * 64)


def odd_version_names(version: str) -> list[str]:
    """Folder names a person takes for ``version`` with revision 009: a final newline, and full-width digits."""
    newer = version[:9] + "009"
    return [newer + "\n", newer.translate({ord("0") + i: 0xFF10 + i for i in range(10)})]


def _odd_version_names(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in SOURCES:
        for name in odd_version_names(versions[-1]):
            write_set(host / store, name)


def _usage_dat(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    """The shared Hawking store's usage.dat: another product on the oldest set, SMSMSE on the newest."""
    write_usage(host / "hawking", [(versions[0], OTHER_CODE), (versions[-1], SMSMSE_CODE)])


def missing_usage_set(versions: list[str]) -> str:
    """The set the ``stale_usage`` fault's usage.dat gives SMSMSE: a revision of the oldest day the host does not hold."""
    return f"{versions[0][:8]}.999"


def _stale_usage(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    """usage.dat gives SMSMSE a set the Hawking store no longer holds (TECH84196): the product fails to start."""
    write_usage(host / "hawking", [(versions[0], OTHER_CODE), (missing_usage_set(versions), SMSMSE_CODE)])


def _unfinished_everywhere(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in STORES:
        (host / store / versions[-1] / MARKER).unlink()


FAULTS: dict[str, Fault] = {
    "corrupt_newest": _corrupt_newest,
    "truncated_file": _truncated_file,
    "missing_marker": _missing_marker,
    "stale_csapi": _stale_csapi,
    "corrupt_active_csapi": _corrupt_active_csapi,
    "all_corrupt": _all_corrupt,
    "empty_stores": _empty_stores,
    "malformed_definfo": _malformed_definfo,
    "truncated_csapi": _truncated_csapi,
    "tampered_csapi": _tampered_csapi,
    "case_collision": _case_collision,
    "odd_version_names": _odd_version_names,
    "unfinished_everywhere": _unfinished_everywhere,
    "usage_dat": _usage_dat,
    "stale_usage": _stale_usage,
}
