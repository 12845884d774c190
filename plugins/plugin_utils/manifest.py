"""Manifests of definition sets: relative path -> (size, SHA-256), and the set digest.

Paths inside a set are written with '/'. The set digest folds case (the sets
are Windows folders, where case does not name another file); a set whose names
collide that way is bad by itself (see :mod:`structure`), and the catalog
compares names exactly (see :func:`catalog.check_set`). A path that could leave the set is never accepted:
no '..' or '.' part, no absolute path, drive letter, UNC prefix, backslash,
alternate data stream or control character; and no part Windows opens as a
device instead of a file (:data:`RESERVED_DEVICE_NAMES`, see :func:`reserved_part`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\\:*?\"<>|]")
MAX_PATH = 260

#: names Windows opens as a device, not a file, in any folder: with any extension, trailing dots or spaces, in any case.
#: Windows counts the superscript digits as digits here (COM¹ is a port). A line adds a name.
RESERVED_DEVICE_NAMES: frozenset[str] = frozenset(
    (
        "CON",
        "PRN",
        "AUX",
        "NUL",
        "CONIN$",
        "CONOUT$",
        *(f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789\u00b9\u00b2\u00b3"),
    )
)


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


Manifest = Mapping[str, Entry]


def ntfs_upper(name: str) -> str:
    """``name`` as NTFS compares it: each character's simple upper case, one character for one.

    NTFS compares names through its upcase table, which maps one character to one:
    ``ß`` stays ``ß`` (``str.upper`` would make it ``SS``, ``str.casefold`` ``ss``) and
    ``ﬁ`` stays ``ﬁ``. So ``straße.dat`` and ``STRASSE.DAT`` are two files on NTFS.
    """
    return "".join(upper if len(upper := char.upper()) == 1 else char for char in name)


def reserved_part(path: str) -> str | None:
    """The part of ``path`` Windows would open as a device (``NUL.txt``, ``con .dat``, ``COM¹``), or None.

    Windows drops trailing dots and spaces, then the extension (from the first dot)
    and the spaces before it, and compares what is left with the device names in any case.
    """
    for part in path.split("/"):
        stem = part.rstrip(". ").split(".", 1)[0].rstrip(" ")
        if ntfs_upper(stem) in RESERVED_DEVICE_NAMES:
            return part
    return None


def unsafe_path(path: str) -> str | None:
    """Why ``path`` is not a safe relative path inside a set, or None when it is."""
    if not path:
        return "is empty"
    if len(path) > MAX_PATH:
        return f"is longer than {MAX_PATH} characters"
    if "\\" in path:
        return "uses a backslash ('/' separates folders, and '..\\' could leave the set)"
    if path.startswith("/"):
        return "is absolute"
    if re.match(r"^[A-Za-z]:", path):
        return "names a drive"
    if _UNSAFE_CHARS.search(path):
        return "contains a character that is not allowed in a file name"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "contains an empty, '.' or '..' part"
    if any(part.endswith((" ", ".")) for part in parts):
        return "has a part ending in a space or dot (Windows would rename it)"
    device = reserved_part(path)
    if device is not None:
        return f"has a part, {device!r}, that Windows opens as a device rather than a file"
    return None


def key(path: str) -> str:
    """The comparison key of a relative path."""
    return path.casefold()


def digest(manifest: Manifest) -> str:
    """The set digest: SHA-256 over 'path NUL size NUL sha256 LF' for each file, in key order."""
    hasher = hashlib.sha256()
    for path in sorted(manifest, key=key):
        entry = manifest[path]
        hasher.update(f"{key(path)}\0{entry.size}\0{entry.sha256}\n".encode())
    return hasher.hexdigest()


def from_files(files: Iterable[Mapping[str, Any]]) -> dict[str, Entry] | None:
    """A manifest from agent file records, or None when any file lacks a digest."""
    manifest: dict[str, Entry] = {}
    for record in files:
        sha = record.get("sha256")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            return None
        manifest[str(record["path"])] = Entry(size=int(record["size"]), sha256=sha)
    return manifest
