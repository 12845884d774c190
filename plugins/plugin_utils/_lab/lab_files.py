"""The lab's files: definition sets with derived bytes, ``definfo.dat``, ``usage.dat`` and the events file, as the
product and LiveUpdate write them. Lab only: never used for a real host."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_names

#: the stores a lab host emulates, each a folder of its own name
STORES = store_names.STORE_NAMES
#: the source stores, in the order the lab writes them
SOURCES = store_names.SOURCES_IN_TABLE_ORDER
MARKER = "zdone.dat"
#: (file name, size in bytes) of every set; zdone.dat is added last, as LiveUpdate does
DEFAULT_FILES: tuple[tuple[str, int], ...] = (
    ("virscan1.dat", 6144),
    ("virscan2.dat", 4096),
    ("naveng32.dll", 3072),
    ("navex32a.dll", 3072),
    ("catalog.dat", 512),
    ("v.grd", 256),
)


def set_versions(today: dt.date, count: int) -> list[str]:
    """``count`` daily versions ending yesterday, oldest first (revision .001 to .003 alternate)."""
    return [f"{today - dt.timedelta(days=count - i):%Y%m%d}.{1 + i % 3:03d}" for i in range(count)]


def file_bytes(version: str, name: str, size: int) -> bytes:
    """Deterministic content of ``name`` in ``version``: the same on every host."""
    seed = hashlib.sha256(f"{version}/{name}".encode()).digest()
    blocks = (size + 31) // 32
    return b"".join(hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range(blocks))[:size]


def write_set(store: Path, version: str, files: Sequence[tuple[str, int]] = DEFAULT_FILES) -> Path:
    folder = store / version
    folder.mkdir(parents=True, exist_ok=True)
    for name, size in files:
        (folder / name).write_bytes(file_bytes(version, name, size))
    (folder / MARKER).write_bytes(b"done\r\n")
    return folder


def write_definfo(store: Path, cur_defs: str | None, last_defs: str | None = None) -> None:
    lines = ["[DefDates]"]
    if cur_defs:
        lines.append(f"CurDefs={cur_defs}")
    if last_defs:
        lines.append(f"LastDefs={last_defs}")
    lines += ["", "[Lab]", "; written by the mailsec.smsmse lab", "Builder=mailsec.smsmse"]
    (store / "definfo.dat").write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))


#: the product codes the lab's usage.dat records: SMSMSE's own, and another product sharing the Hawking store
SMSMSE_CODE = "SMSMSE_65"
OTHER_CODE = "NAVCORP_70"


def write_usage(store: Path, entries: Sequence[tuple[str, str]]) -> None:
    """``usage.dat`` of a shared Hawking store: one ``[set]`` section per (set, product code), in order, CRLF."""
    lines: list[str] = []
    for version, code in entries:
        lines += [f"[{version}]", f"{code}=1"]
    (store / "usage.dat").write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))


def read_usage(store: Path) -> dict[str, list[str]]:
    """Set -> product codes of a lab store's ``usage.dat`` (empty when it has none), as the product reads it."""
    path = store / "usage.dat"
    if not path.is_file():
        return {}
    found: dict[str, list[str]] = {}
    section = None
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        text = line.strip()
        if text.startswith("[") and text.endswith("]"):
            section = found.setdefault(text[1:-1].strip(), [])
        elif "=" in text and section is not None:
            section.append(text.split("=", 1)[0].strip())
    return found


def write_events(path: Path, events: Sequence[tuple[int, dt.datetime, str]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for event_id, when, message in events:
            record = {"id": event_id, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": message}
            handle.write(json.dumps(record) + "\n")
