"""What an agent's listing of a store could not say faithfully, placed where it belongs.

One bad entry never disables a host: a name the agent had to escape (its bytes
are not text on the host) or shorten, a set folder it could not list, folders
and files beyond what a reply carries, a ``definfo.dat`` that is a link, a folder
or a special file. Each becomes a :class:`Problem` on the set that holds it, or
on the store; every other set is judged as usual.

The functions read the raw records of ``schemas/agent/probe.reply.json`` (``dir``,
``file``, ``definfo``, ``store``), so that any reader of a reply can use them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.problems import Problem

Join = Callable[..., str]

#: what ``definfo.dat`` is, when it is not a regular file -> (code, how the message says it)
DEFINFO_KINDS: dict[str, tuple[str, str]] = {
    "link": ("DEFINFO_LINK", "a link (symlink, junction or other reparse point); it is not followed"),
    "dir": ("DEFINFO_NOT_A_FILE", "a folder, not a file"),
    "other": ("DEFINFO_NOT_A_FILE", "a special file (FIFO, device or socket), not a regular file"),
}


def readable(folder: Mapping[str, Any]) -> dict[str, Any]:
    """``folder`` without the entries whose names were escaped: what the structure checks may read as names."""
    return {**folder, "files": [f for f in folder["files"] if not f.get("escaped")]}


def set_problems(folder: Mapping[str, Any], *, where: str, join: Join) -> list[Problem]:
    """The listing's problems in one set folder (a ``dir`` record) at host path ``where``."""
    name = folder["name"]
    found = []
    if folder.get("error"):
        message = f"The set folder {name} cannot be listed ({folder['error']}): it cannot be verified."
        found.append(Problem("SET_UNREADABLE", message, where))
    for record in folder["files"]:
        if record.get("escaped"):
            message = f"{record['path']} in set {name} has a name that is not text on the host (shown escaped) or is too long."
            found.append(Problem("NAME_UNDECODABLE", message, join(where, record["path"])))
    return found


def store_problems(entry: Mapping[str, Any], *, join: Join) -> list[Problem]:
    """The listing's problems at the top of one store (a ``store`` record): escaped names, entries left out."""
    path = entry["path"]
    found = []
    for record, key, kind in [*((d, "name", "folder") for d in entry["dirs"]), *((f, "path", "file") for f in entry["files"])]:
        if record.get("escaped"):
            message = f"The {kind} {record[key]} in the store has a name that is not text on the host (shown escaped) or is too long."
            found.append(Problem("NAME_UNDECODABLE", message, join(path, record[key])))
    omitted = entry.get("omitted")
    if omitted:
        names = ", ".join(omitted["names"]) + (", ..." if omitted["dirs"] > len(omitted["names"]) else "")
        message = (
            f"The store holds {omitted['dirs']} folder(s) and {omitted['files']} file(s) more than the agent lists; "
            f"sets come first, newest first, and those left out are not judged" + (f": {names}." if names else ".")
        )
        found.append(Problem("STORE_TOO_MANY_ENTRIES", message, path))
    return found


def pointer_problem(record: Mapping[str, Any], where: str) -> Problem | None:
    """Why ``definfo.dat`` (a ``definfo`` record at host path ``where``) cannot be read, when it is not a regular file."""
    if not record["present"] or record.get("kind") in (None, "file"):
        return None
    code, what = DEFINFO_KINDS[record["kind"]]
    return Problem(code, f"{where} is {what}.", where)
