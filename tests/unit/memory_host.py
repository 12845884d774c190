"""A host held in memory: the hashing ``probe`` reply a POSIX agent would send for stores described in a few lines.

No folder is written: the planner and the decision are tested on the assessment this reply gives, as the controller
builds it from any agent's reply. A store is ``{"pointer": (current, last), "sets": {version: files}}``; ``files``
maps a file name to its bytes (``intact(version)`` gives a set with every required file and its marker).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, TypedDict

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure

ROOT = "/srv/smsmse"
STORES = ("hawking", "smsmse_hawking", "csapi")


class StoreSpec(TypedDict, total=False):
    pointer: tuple[str | None, str | None]
    sets: Mapping[str, Mapping[str, bytes]]


def intact(version: str) -> dict[str, bytes]:
    """A complete set of ``version``: each required file (bytes that name the set and the file) and the marker."""
    return {name: f"{version}:{name}".encode() * 64 for name in structure.DEFAULT_REQUIRED_FILES}


def damaged(version: str, name: str = "virscan1.dat") -> dict[str, bytes]:
    """``version``'s set with one byte of ``name`` changed: the size is the same, the digest is not."""
    files = intact(version)
    data = bytearray(files[name])
    data[len(data) // 2] ^= 0xFF
    files[name] = bytes(data)
    return files


def unfinished(version: str) -> dict[str, bytes]:
    """``version``'s set as an extraction that never finished: no marker."""
    return {name: data for name, data in intact(version).items() if name != structure.MARKER}


def _definfo(current: str | None, last: str | None) -> bytes:
    lines = ["[DefDates]"] + ([f"CurDefs={current}"] if current else []) + ([f"LastDefs={last}"] if last else [])
    return ("\r\n".join(lines) + "\r\n").encode()


def _store(name: str, spec: StoreSpec) -> dict[str, Any]:
    path = f"{ROOT}/{name}"
    current, last = spec.get("pointer", (None, None))
    pointer = _definfo(current, last) if current or last else None
    dirs = [
        {
            "name": version,
            "link": False,
            "mtime": 1.0,
            "files": [
                {"path": file, "size": len(data), "mtime": 1.0, "link": False, "sha256": hashlib.sha256(data).hexdigest()}
                for file, data in sorted(files.items())
            ],
            "truncated": False,
        }
        for version, files in sorted(spec.get("sets", {}).items())
    ]
    return {
        "name": name,
        "template": path,
        "path": path,
        "real_path": path,
        "exists": True,
        "kind": "dir",
        "error": None,
        "free_bytes": 10**10,
        "definfo": {
            "present": pointer is not None,
            "size": None if pointer is None else len(pointer),
            "sha256": None if pointer is None else hashlib.sha256(pointer).hexdigest(),
            "content_b64": None if pointer is None else base64.b64encode(pointer).decode(),
            **({"kind": "file"} if pointer is not None else {}),
        },
        "dirs": dirs,
        "files": [] if pointer is None else [{"path": "definfo.dat", "size": len(pointer), "mtime": 1.0, "link": False}],
        "hash_stats": {"files_hashed": 0, "bytes_hashed": 0, "files_cached": 0, "bytes_cached": 0, "cache_error": None},
    }


def reply(stores: Mapping[str, StoreSpec]) -> dict[str, Any]:
    """The contract-checked probe reply of a POSIX host with these stores (a store not named is absent)."""
    found = {
        "contract": 1,
        "op": "probe",
        "agent": {"name": "defs_agent_posix", "runtime": "Python 3.13.0"},
        "host": {"os": "linux", "os_version": "6.1", "arch": "x86_64", "hostname": "mail01", "env": {}},
        "product": {"name": "Symantec Mail Security for Microsoft Exchange", "version": "6.5.8", "source": "option"},
        "stores": [_store(name, stores[name]) for name in STORES if name in stores],
        "events": [],
        "events_error": None,
    }
    return contract.check_reply("probe", found)


def assess(stores: Mapping[str, StoreSpec]) -> assessment.Assessment:
    """The host's assessment, judged without a catalog, as ``defs_verify`` builds it."""
    overrides = {name: f"{ROOT}/{name}" for name in STORES}
    return assessment.assess(reply(stores), overrides=overrides, required_files=structure.DEFAULT_REQUIRED_FILES, trusted=None)
