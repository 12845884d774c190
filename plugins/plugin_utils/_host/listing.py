"""What an agent's listing of a store could not say faithfully, placed where it belongs.

One bad entry never disables a host: a name the agent had to escape (its bytes
are not text on the host) or shorten, a set folder it could not list, folders
and files beyond what a reply carries, a ``definfo.dat`` that is a link, a folder
or a special file. Each becomes a :class:`Problem` on the set that holds it, or
on the store; every other set is judged as usual.

The set and store checks read the typed :mod:`snapshot` (which carries the
reply's ``escaped``, ``error`` and ``omitted``); :func:`pointer_problem` reads the
raw ``definfo`` record while the snapshot is being built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import Problem

if TYPE_CHECKING:  # snapshot imports this module
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.snapshot import SetFolder, Store

Join = Callable[..., str]

#: what ``definfo.dat`` is, when it is not a regular file -> (code, how the message says it)
DEFINFO_KINDS: dict[str, tuple[str, str]] = {
    "link": ("DEFINFO_LINK", "a link (symlink, junction or other reparse point); it is not followed"),
    "dir": ("DEFINFO_NOT_A_FILE", "a folder, not a file"),
    "other": ("DEFINFO_NOT_A_FILE", "a special file (FIFO, device or socket), not a regular file"),
}


def readable(folder: SetFolder) -> SetFolder:
    """``folder`` without the entries whose names were escaped: what the structure checks may read as names."""
    return dataclasses.replace(folder, files=tuple(f for f in folder.files if not f.escaped))


def set_problems(folder: SetFolder, *, where: str, join: Join) -> list[Problem]:
    """The listing's problems in one set folder at host path ``where``."""
    found = []
    if folder.error:
        message = f"The set folder {folder.name} cannot be listed ({folder.error}): it cannot be verified."
        found.append(Problem("SET_UNREADABLE", message, where))
    for entry in folder.files:
        if entry.escaped:
            message = f"{entry.path} in set {folder.name} has a name that is not text on the host (shown escaped) or is too long."
            found.append(Problem("NAME_UNDECODABLE", message, join(where, entry.path)))
    return found


def store_problems(store: Store, *, join: Join) -> list[Problem]:
    """The listing's problems at the top of one store: escaped names, entries left out."""
    found = []
    named = [
        *((f.name, "folder") for f in (*store.sets, *store.others) if f.escaped),
        *((f.path, "file") for f in store.files if f.escaped),
    ]
    for name, kind in named:
        message = f"The {kind} {name} in the store has a name that is not text on the host (shown escaped) or is too long."
        found.append(Problem("NAME_UNDECODABLE", message, join(store.path, name)))
    omitted = store.omitted
    if omitted:
        names = ", ".join(omitted["names"]) + (", ..." if omitted["dirs"] > len(omitted["names"]) else "")
        message = (
            f"The store holds {omitted['dirs']} folder(s) and {omitted['files']} file(s) more than the agent lists; "
            f"sets come first, newest first, and those left out are not judged" + (f": {names}." if names else ".")
        )
        found.append(Problem("STORE_TOO_MANY_ENTRIES", message, store.path))
    return found


def pointer_problem(record: Mapping[str, object], where: str) -> Problem | None:
    """Why ``definfo.dat`` (a raw ``definfo`` record at host path ``where``) cannot be read, when it is not a regular file."""
    if not record["present"] or record.get("kind") in (None, "file"):
        return None
    code, what = DEFINFO_KINDS[str(record["kind"])]
    return Problem(code, f"{where} is {what}.", where)
