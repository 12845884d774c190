"""Structural checks of one definition set, from the agent's listing of its folder.

A set passes when its name is a valid version, its ``zdone.dat`` marker is
there, every required file is there and not empty, no file is empty or
temporary, nothing in it is a link, junction or path leading out of it, no name is
one Windows opens as a device (``NUL``, ``con.dat``, ``COM1``), no two
of its names are one name to Windows (the same through NTFS's upcase table, or
once Windows drops trailing dots and spaces: :func:`ntfs.key`), and (with
hashing) every file could be read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import FileEntry, SetFolder
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import manifest, versions
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem

MARKER = "zdone.dat"

#: files every set is expected to hold (case-insensitive); the required_files option replaces this
DEFAULT_REQUIRED_FILES: tuple[str, ...] = ("zdone.dat", "virscan1.dat", "naveng32.dll", "navex32a.dll")

#: names of files left by an unfinished write: (pattern, what it is)
TEMPORARY_FILES: tuple[tuple[str, str], ...] = (
    (r"^~", "an editor or installer temporary file"),
    (r"\.(tmp|temp)$", "a temporary file"),
    (r"\.(part|partial|download|crdownload)$", "a partial download"),
    (r"\.\$\$\$$", "a temporary file"),
    (r"^\.smsmse-", "a file of an interrupted mailsec.smsmse copy"),
)
_TEMPORARY = tuple((re.compile(pattern, re.IGNORECASE), what) for pattern, what in TEMPORARY_FILES)

Join = Callable[..., str]


def is_temporary(name: str) -> str | None:
    """What kind of leftover ``name`` is (a temporary or partial file), or None."""
    return next((what for pattern, what in _TEMPORARY if pattern.search(name)), None)


def collisions(paths: Iterable[str]) -> list[list[str]]:
    """Groups of distinct paths that are one file to Windows (see :func:`ntfs.key`)."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(ntfs.key(path), []).append(path)
    return [sorted(group) for _key, group in sorted(groups.items()) if len(group) > 1]


def check_set(
    folder: SetFolder,
    *,
    where: str,
    join: Join,
    required_files: Iterable[str],
    hashed: bool,
    today: dt.date | None = None,
) -> list[Problem]:
    """Every structural problem of the set ``folder`` at host path ``where``."""
    name = folder.name
    found: list[Problem] = []
    try:
        versions.parse_version(name, today=today)
    except versions.VersionError as exc:
        found.append(Problem("SET_NAME_INVALID", str(exc), where))
    if folder.link:
        return [*found, Problem("SET_LINK", f"The set folder {name} is a link or junction: it may lead out of the store.", where)]
    if folder.truncated:
        found.append(Problem("SET_TOO_MANY_FILES", f"The set {name} holds more files than the agent lists; it cannot be verified.", where))
    files = folder.files
    names = {ntfs.key(f.path) for f in files}
    if ntfs.key(MARKER) not in names:
        found.append(Problem("SET_MARKER_MISSING", f"The set {name} has no {MARKER}: its extraction never finished.", join(where, MARKER)))
    for required in required_files:
        if ntfs.key(required) not in names and ntfs.key(required) != ntfs.key(MARKER):
            found.append(Problem("SET_REQUIRED_FILE_MISSING", f"The set {name} has no {required}.", join(where, required)))
    for group in collisions(f.path for f in files):
        listed = ", ".join(group)
        found.append(
            Problem(
                "SET_NAME_COLLISION",
                f"The set {name} holds {listed}: one file name to Windows (case, or trailing dots and spaces), so which one "
                "a copy keeps is chance.",
                join(where, group[0]),
            )
        )
    for record in files:
        found.extend(_check_file(record, name=name, path=join(where, record.path), hashed=hashed))
    return found


def _check_file(record: FileEntry, *, name: str, path: str, hashed: bool) -> list[Problem]:
    relative = record.path
    if record.link:
        return [Problem("SET_LINK", f"{relative} in set {name} is a link or junction: it may lead out of the store.", path)]
    found = []
    device = ntfs.reserved_part(relative)
    why = manifest.unsafe_path(relative)
    if device is not None:
        message = f"{relative!r} in set {name}: Windows opens {device!r} as a device, not as a file of the set."
        found.append(Problem("SET_NAME_RESERVED", message, path))
    elif why:
        found.append(Problem("SET_PATH_UNSAFE", f"{relative!r} in set {name} {why}.", path))
    base = relative.rsplit("/", 1)[-1]
    what = is_temporary(base)
    if what:
        found.append(Problem("SET_TEMPORARY_FILE", f"{relative} in set {name} is {what}: the set was not written completely.", path))
    if record.size == 0 and ntfs.key(base) != ntfs.key(MARKER):
        found.append(Problem("SET_FILE_EMPTY", f"{relative} in set {name} is empty.", path))
    if hashed and record.sha256 is None:
        why = "changed while it was read (something is writing it)" if record.changed else "could not be read to hash it"
        found.append(Problem("SET_FILE_UNREADABLE", f"{relative} in set {name} {why}.", path))
    return found
