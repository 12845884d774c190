"""Manifests of definition sets: relative path -> (size, SHA-256), and the set digest.

Paths inside a set are written with '/'. The set digest folds case (the sets
are Windows folders, where case does not name another file); a set whose names
are one file to Windows is bad by itself (see :mod:`structure`, which decides
that as NTFS does, with :func:`ntfs.key`), and the catalog compares names
exactly (see :func:`catalog.check_set`). A path that could leave the set is never accepted:
no '..' or '.' part, no absolute path, drive letter, UNC prefix, backslash,
alternate data stream or control character; and no part Windows opens as a
device instead of a file (:func:`ntfs.reserved_part`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import ntfs

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\\:*?\"<>|]")
MAX_PATH = 260


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


Manifest = Mapping[str, Entry]


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
    device = ntfs.reserved_part(path)
    if device is not None:
        return f"has a part, {device!r}, that Windows opens as a device rather than a file"
    return None


def key(path: str) -> str:
    """The key of a path in the set digest: Unicode case folding.

    It decides no collision (:func:`ntfs.key` does); it stays case folding so that the
    digests of catalogs already signed stay valid.
    """
    return path.casefold()


def digest(manifest: Manifest) -> str:
    """The set digest: SHA-256 over 'key NUL size NUL sha256 LF' for each file, in key order.

    Names with one key that are two files on NTFS (``straße.dat``, ``STRASSE.DAT``) are
    ordered by their exact names, so the digest never depends on the order of a listing.
    """
    hasher = hashlib.sha256()
    for path in sorted(manifest, key=lambda p: (key(p), p)):
        entry = manifest[path]
        hasher.update(f"{key(path)}\0{entry.size}\0{entry.sha256}\n".encode())
    return hasher.hexdigest()


def from_files(files: Iterable[Mapping[str, object]]) -> dict[str, Entry] | None:
    """A manifest from agent file records, or None when any file lacks a digest."""
    manifest: dict[str, Entry] = {}
    for record in files:
        sha = record.get("sha256")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            return None
        size = record["size"]
        if not isinstance(size, int):
            return None
        manifest[str(record["path"])] = Entry(size=size, sha256=sha)
    return manifest
