"""Hostile input on a host's stores: one bad entry is reported where it is, and never disables the host.

Each line of :data:`CASES` creates one hostile entry in a lab host and says what the
controller must conclude. The POSIX agent probes the host in-process, its reply
crosses the wire as a module's reply does (JSON, then the controller's refusal of
strings that are not UTF-8), meets the contract, and is judged by facts and
verification. Everything not named in a case's expectation must be judged as on
a healthy host: every set good, every store readable.

To add a case: write a ``make`` function (it gets the host folder and its versions,
oldest first, and returns the folders the agent is denied, if any) and add a line.
Targets in ``expect`` are ``("set", store, version index)``, ``("store", store)`` or
``("active", store)``; values are the codes expected there.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.mailsec.smsmse.plugins.module_utils import scan
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

from . import lab_change

TODAY = dt.datetime.now(dt.timezone.utc).date()
#: (host folder, versions oldest first) -> folders the agent may not read
Make = Callable[[Path, list[str]], list[Path]]
Target = tuple[Any, ...]


@dataclass(frozen=True)
class Case:
    name: str
    make: Make
    expect: Mapping[Target, set[str]] = field(default_factory=dict)
    #: the CSAPI active version afterwards (index into the host's versions), when the case leaves it readable
    active: int | None = -1


def _write(folder: Path, name: bytes, data: bytes = b"x" * 10) -> None:
    """A file whose name is bytes that are not UTF-8 (pathlib takes only text)."""
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(data)


def _bad_name_in_set(host: Path, versions: list[str]) -> list[Path]:
    _write(host / "csapi" / versions[-1], b"\xff\xfe.dat")
    return []


def _bad_name_deep_in_set(host: Path, versions: list[str]) -> list[Path]:
    (host / "hawking" / versions[0] / "sub").mkdir()
    _write(host / "hawking" / versions[0] / "sub", b"caf\xe9.dat")
    return []


def _bad_folder_name_in_store(host: Path, versions: list[str]) -> list[Path]:
    os.mkdir(os.path.join(os.fsencode(host / "csapi"), b"\xff\xfe"))
    _write(host / "csapi" / os.fsdecode(b"\xff\xfe"), b"\x80.dat")
    return []


def _bad_file_name_in_store(host: Path, versions: list[str]) -> list[Path]:
    _write(host / "hawking", b"\xfe.log")
    return []


def _unreadable_set(host: Path, versions: list[str]) -> list[Path]:
    return [host / "hawking" / versions[0]]


def _unreadable_folder_in_set(host: Path, versions: list[str]) -> list[Path]:
    (host / "smsmse_hawking" / versions[1] / "sub").mkdir()
    (host / "smsmse_hawking" / versions[1] / "sub" / "x.dat").write_bytes(b"x")
    return [host / "smsmse_hawking" / versions[1] / "sub"]


def _many_folders(host: Path, versions: list[str]) -> list[Path]:
    for i in range(4200):
        (host / "hawking" / f"junk{i:05d}").mkdir()
    return []


def _many_files(host: Path, versions: list[str]) -> list[Path]:
    for i in range(4200):
        (host / "smsmse_hawking" / f"junk{i:05d}.log").write_bytes(b"")
    return []


def _definfo(change: Callable[[Path], object]) -> Make:
    def make(host: Path, versions: list[str]) -> list[Path]:
        path = host / "csapi" / "definfo.dat"
        path.unlink()
        change(path)
        return []

    return make


def _encoded(encoding: str, mark: bytes = b"") -> Make:
    def make(host: Path, versions: list[str]) -> list[Path]:
        text = f"; Écrit par l'outil\r\n[DefDates]\r\nCurDefs={versions[-1]}\r\n[Other]\r\nKeep=me\r\n"
        (host / "csapi" / "definfo.dat").write_bytes(mark + text.encode(encoding))
        return []

    return make


CASES: tuple[Case, ...] = (
    Case("healthy host", lambda host, versions: []),
    Case("non-UTF-8 file name in the active set", _bad_name_in_set, {("set", "csapi", -1): {"NAME_UNDECODABLE"}}),
    Case("non-UTF-8 file name deep in a set", _bad_name_deep_in_set, {("set", "hawking", 0): {"NAME_UNDECODABLE"}}),
    Case("non-UTF-8 folder name in a store", _bad_folder_name_in_store, {("store", "csapi"): {"NAME_UNDECODABLE"}}),
    Case("non-UTF-8 file name in a store", _bad_file_name_in_store, {("store", "hawking"): {"NAME_UNDECODABLE"}}),
    Case("unreadable set folder", _unreadable_set, {("set", "hawking", 0): {"SET_UNREADABLE"}}),
    Case("unreadable folder in a set", _unreadable_folder_in_set, {("set", "smsmse_hawking", 1): {"SET_UNREADABLE"}}),
    Case("more folders than the agent lists", _many_folders, {("store", "hawking"): {"STORE_TOO_MANY_ENTRIES"}}),
    Case("more files than the agent lists", _many_files, {("store", "smsmse_hawking"): {"STORE_TOO_MANY_ENTRIES"}}),
    Case(
        "definfo.dat oversized",
        _definfo(lambda p: p.write_bytes(b"[DefDates]\r\n" + b";" * 70000)),
        {("active", "csapi"): {"DEFINFO_TOO_LARGE"}},
        active=None,
    ),
    Case(
        "definfo.dat a symlink",
        _definfo(lambda p: p.symlink_to(p.parent.parent / "hawking" / "definfo.dat")),
        {("active", "csapi"): {"DEFINFO_LINK"}},
        active=None,
    ),
    Case("definfo.dat a dangling symlink", _definfo(lambda p: p.symlink_to("/nowhere")), {("active", "csapi"): {"DEFINFO_LINK"}}, None),
    Case("definfo.dat a folder", _definfo(lambda p: p.mkdir()), {("active", "csapi"): {"DEFINFO_NOT_A_FILE"}}, active=None),
    Case("definfo.dat a FIFO", _definfo(os.mkfifo), {("active", "csapi"): {"DEFINFO_NOT_A_FILE"}}, active=None),
    Case("definfo.dat in UTF-16 LE with BOM", _encoded("utf-16-le", b"\xff\xfe")),
    Case("definfo.dat in UTF-16 BE with BOM", _encoded("utf-16-be", b"\xfe\xff")),
    Case("definfo.dat in UTF-16 LE without BOM", _encoded("utf-16-le")),
    Case("definfo.dat with a cp1252 comment", _encoded("cp1252")),
    Case("definfo.dat in UTF-8 with BOM", _encoded("utf-8", b"\xef\xbb\xbf")),
)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def over_the_wire(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply as the controller receives it: JSON, and refused when a string is not valid UTF-8 (as ansible-core does)."""
    received: dict[str, Any] = json.loads(json.dumps(reply))
    for text in _strings(received):
        text.encode("utf-8")  # raises UnicodeEncodeError where ansible-core refuses to deserialize the reply
    return received


def probe(inventory: Path, denied: list[Path], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["h"]
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=hostvars["smsmse_defs_product"],
        events_file=hostvars["smsmse_defs_events_file"],
        event_hours=72,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache")},
    )
    contract.check_request("probe", request)
    real_scandir = os.scandir
    refused = {str(path) for path in denied}

    def scandir(path: Any = ".") -> Any:  # the tests run as root: a denied folder is simulated
        if os.fsdecode(path) in refused:
            raise PermissionError(13, "Permission denied", os.fsdecode(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    reply = over_the_wire(defs_agent_posix.probe(request))
    monkeypatch.undo()
    return contract.check_reply("probe", reply)


def findings(verification: Mapping[str, Any], versions: list[str]) -> dict[Target, set[str]]:
    """Every code the verification reports, by where it reports it (versions as indexes)."""
    found: dict[Target, set[str]] = {}
    for entry in verification["sets"]:
        if entry["errors"]:
            found[("set", entry["store"], versions.index(entry["version"]) - len(versions))] = {e["code"] for e in entry["errors"]}
    for store, problems in verification["store_problems"].items():
        if problems:
            found[("store", store)] = {p["code"] for p in problems}
    for store, record in verification["active"].items():
        if record["version"] is None and record["errors"]:
            found[("active", store)] = {e["code"] for e in record["errors"]}
    return found


def _normalise(expect: Mapping[Target, set[str]], count: int) -> dict[Target, set[str]]:
    return {(t[0], t[1], t[2] - count if t[2] >= 0 else t[2]) if t[0] == "set" else t: codes for t, codes in expect.items()}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_bad_entry_never_disables_a_host(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("h")], today=TODAY)
    versions = lab.set_versions(TODAY, 3)
    denied = case.make(tmp_path / "lab" / "hosts" / "h", versions)
    reply = probe(inventory, denied, monkeypatch)
    overrides = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["h"]["smsmse_defs_stores"]
    parsed = snapshot.parse(reply, overrides)
    verification = verify.judge(parsed, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None)
    assert findings(verification, versions) == _normalise(case.expect, len(versions))
    built = facts.build(parsed, strict=False)
    csapi = built["stores"]["csapi"]
    assert csapi["active"] == (versions[case.active] if case.active is not None else None)
    if ("active", "csapi") in case.expect:
        error = csapi["definfo_error"]
        assert error is not None and error["code"] in case.expect[("active", "csapi")]
    for target, _codes in case.expect.items():
        if target[0] == "set" and "NAME_UNDECODABLE" in _codes:
            paths = [e["path"] for s in verification["sets"] for e in s["errors"] if e["code"] == "NAME_UNDECODABLE"]
            assert paths and all(p is not None and "\\x" in p for p in paths), paths


# --- a definfo.dat that cannot be read never leaves promote stuck ---


def _folder_holding_a_file(path: Path) -> None:
    path.mkdir()
    (path / "kept.txt").write_bytes(b"not ours to delete")


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_definfo(lambda p: p.write_bytes(b"[DefDates]\r\n" + b";" * 70000)), id="oversized"),
        pytest.param(_definfo(lambda p: p.symlink_to("/nowhere")), id="dangling symlink"),
        pytest.param(_definfo(lambda p: p.symlink_to(p.parent.parent / "hawking" / "definfo.dat")), id="symlink"),
        pytest.param(_definfo(_folder_holding_a_file), id="folder"),
    ],
)
def test_promote_replaces_a_definfo_it_cannot_read(case: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("h")], today=TODAY)
    versions = lab.set_versions(TODAY, 3)
    host = tmp_path / "lab" / "hosts" / "h"
    hawking_definfo = (host / "hawking" / "definfo.dat").read_bytes()
    case(host, versions)

    def planned() -> plan.Plan:
        return lab_change.promote(inventory, "h", probe(inventory, [], monkeypatch))

    kept = len(list(host.rglob("kept.txt")))
    first = planned()
    assert first.changes
    done = lab_change.carry(first)
    assert not done["failed"], done["msg"]
    assert len(list(host.rglob("kept.txt"))) == kept, "a folder in definfo.dat's place is moved aside, never deleted"
    assert (host / "csapi" / "definfo.dat").is_file() and not (host / "csapi" / "definfo.dat").is_symlink()
    assert lab_product.active(host / "csapi") == versions[-1]
    assert not planned().changes, "the next run has nothing to do"
    assert (host / "hawking" / "definfo.dat").read_bytes() == hawking_definfo, "a link's target is never written"


# --- the agent's escaping: any name crosses the wire, and is flagged when it is not the name on disk ---


@given(st.binary(min_size=1, max_size=300).filter(lambda b: b"/" not in b and b"\x00" not in b))
def test_any_name_crosses_the_wire_flagged_when_altered(raw: bytes) -> None:
    shown, escaped = scan.wire_name(os.fsdecode(raw), 260)
    shown.encode("utf-8")  # what ansible-core demands of every string in a reply
    assert len(shown) <= 260
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    assert escaped == (text is None or len(text) > 260)
    if not escaped:
        assert shown == text


def test_a_fifo_definfo_never_blocks_a_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("h")], today=TODAY)
    fifo = tmp_path / "lab" / "hosts" / "h" / "csapi" / "definfo.dat"
    _definfo(os.mkfifo)(tmp_path / "lab" / "hosts" / "h", [])
    the_plan = lab_change.promote(inventory, "h", probe(inventory, [], monkeypatch))
    finished = threading.Event()

    def change() -> None:
        lab_change.carry(the_plan)
        finished.set()

    worker = threading.Thread(target=change, daemon=True)
    worker.start()
    blocked = not finished.wait(5)
    if blocked:  # release the agent: a writer that closes at once gives the blocked reader its end of file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(30)
    assert not blocked, "the change blocked on a FIFO named definfo.dat"


# --- a store path (an option) that is not a folder is reported as what it is, never as missing ---


@dataclass(frozen=True)
class StorePath:
    name: str
    #: replaces the csapi store folder (the path the options give) with something else
    make: Callable[[Path], object]
    code: str
    says: str
    #: paths whose stat the agent is denied (the tests run as root: a denial is simulated)
    denied: bool = False


def _replace_store(make: Callable[[Path], object]) -> Callable[[Path], object]:
    def replace(store: Path) -> None:
        for item in sorted(store.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            item.rmdir() if item.is_dir() and not item.is_symlink() else item.unlink()
        store.rmdir()
        make(store)

    return replace


STORE_PATHS: tuple[StorePath, ...] = (
    StorePath("a file", _replace_store(lambda p: p.write_bytes(b"[DefDates]\r\n")), "STORE_NOT_A_FOLDER", "is a file, not a folder"),
    StorePath(
        "a link to a file",
        _replace_store(lambda p: p.symlink_to(p.parent / "hawking" / "definfo.dat")),
        "STORE_NOT_A_FOLDER",
        "is a link to a file, not a folder",
    ),
    StorePath("a FIFO", _replace_store(os.mkfifo), "STORE_NOT_A_FOLDER", "is a special file"),
    StorePath("a dangling link", _replace_store(lambda p: p.symlink_to("/nowhere")), "STORE_NOT_FOUND", "is a link to nothing"),
    StorePath("missing", _replace_store(lambda p: None), "STORE_NOT_FOUND", "does not exist"),
    StorePath("not to be looked at", lambda p: None, "STORE_UNREADABLE", "Permission denied", denied=True),
)


@pytest.mark.parametrize("case", STORE_PATHS, ids=[case.name for case in STORE_PATHS])
def test_a_store_path_that_is_not_a_folder_is_reported_as_what_it_is(
    case: StorePath, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("h")], today=TODAY)
    store = tmp_path / "lab" / "hosts" / "h" / "csapi"
    case.make(store)
    if case.denied:
        real_lstat, real_stat = os.lstat, os.stat

        def deny(real: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
            def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
                if os.fsdecode(path) == str(store):
                    raise PermissionError(13, "Permission denied", os.fsdecode(path))
                return real(path, *args, **kwargs)

            return stat

        monkeypatch.setattr(os, "lstat", deny(real_lstat))
        monkeypatch.setattr(os, "stat", deny(real_stat))
    reply = probe(inventory, [], monkeypatch)
    overrides = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"]["h"]["smsmse_defs_stores"]
    with pytest.raises(SmsmseError) as caught:
        snapshot.parse(reply, overrides)
    assert caught.value.code == case.code
    assert str(store) in str(caught.value) and case.says in str(caught.value)
    assert "`stores.csapi`" in str(caught.value) or case.code == "STORE_UNREADABLE"


def test_a_definfo_written_again_while_read_is_sent_with_the_digest_of_the_bytes_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the product appends to definfo.dat between our two reads: the reply must stay self-consistent (or the host fails whole)
    path = tmp_path / "definfo.dat"
    path.write_bytes(b"[DefDates]\r\nCurDefs=20261126.003\r\n")
    real_fdopen = os.fdopen

    class Growing:
        def __init__(self, handle: Any) -> None:
            self.handle, self.reads = handle, 0

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *_exc: object) -> None:
            self.handle.close()

        def fileno(self) -> int:
            return int(self.handle.fileno())

        def read(self, size: int) -> bytes:
            self.reads += 1
            return bytes(self.handle.read(size)) if self.reads == 1 else (b"LastDefs=x\r\n" if self.reads == 2 else b"")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Growing(real_fdopen(fd, mode)))
    record = scan.read_definfo(str(path), 4096)
    sent = base64.b64decode(record["content_b64"])
    assert sent == path.read_bytes()
    assert record["sha256"] == hashlib.sha256(sent).hexdigest() and record["size"] == len(sent)
