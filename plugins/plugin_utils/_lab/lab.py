"""A lab of emulated SMSMSE servers on one POSIX machine, for the demo and the tests.

Each lab host is a folder holding the three stores (``hawking``,
``smsmse_hawking``, ``csapi``) with small but realistic definition sets, a
``definfo.dat`` per store, a JSON-lines events file and a product version. The
inventory reaches every host over the local connection and tells the modules,
through host variables, where that host's stores are. Its hosts are in the group
``smsmse_lab`` and, through it, in ``exchange_servers``, the group the examples target.

File contents are derived from the version and file name, so the same version
holds the same bytes on every host, as on a real fleet. Faults named in
:data:`FAULTS` are applied after the healthy layout is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent, product

STORES = ("hawking", "smsmse_hawking", "csapi")
#: the agents a lab host can be served by, and the inventory variable that picks one
AGENTS = agent.LAB_AGENTS
LAB_AGENT_VARIABLE = agent.LAB_AGENT_VARIABLE
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


@dataclass
class LabHost:
    """One emulated server: its name, product version, how many sets it holds, and its faults."""

    name: str
    version: str = "6.5.8"
    sets: int = 3
    csapi_sets: int = 2
    faults: list[str] = field(default_factory=list)
    liveupdate: str | None = None  # "works", "fails", or None (no LiveUpdate command)
    events: tuple[int, ...] = ()  # product events written an hour ago, for example (401,) on a 7.x host
    agent: str = "posix"  # "windows": served by the Windows agent's engine under Mono (smsmse_defs_lab_agent)


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


# --- faults: each takes the host folder, the host's versions (oldest first) and appends events ---

Fault = Callable[[Path, list[str], list[tuple[int, dt.datetime, str]]], None]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_newest(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in ("hawking", "smsmse_hawking"):
        _flip(host / store / versions[-1] / DEFAULT_FILES[0][0])


def _truncated_file(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in ("hawking", "smsmse_hawking"):
        target = host / store / versions[-1] / DEFAULT_FILES[1][0]
        target.write_bytes(target.read_bytes()[: DEFAULT_FILES[1][1] // 3])


def _missing_marker(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in ("hawking", "smsmse_hawking"):
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
    for store in ("hawking", "smsmse_hawking"):
        (host / store / versions[-1] / DEFAULT_FILES[0][0].upper()).write_bytes(b"not what the vendor shipped\r\n" * 64)


def odd_version_names(version: str) -> list[str]:
    """Folder names a person takes for ``version`` with revision 009: a final newline, and full-width digits."""
    newer = version[:9] + "009"
    return [newer + "\n", newer.translate({ord("0") + i: 0xFF10 + i for i in range(10)})]


def _odd_version_names(host: Path, versions: list[str], events: list[tuple[int, dt.datetime, str]]) -> None:
    for store in ("hawking", "smsmse_hawking"):
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

#: the role demo's 20 hosts: (faults, product version, LiveUpdate)
FLEET_MIX: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    ((), "6.5.8", "works"),
    ((), "6.5.8", "works"),
    ((), "6.5.8", "works"),
    ((), "6.0.14", "works"),
    ((), "6.0.14", "works"),
    (("stale_csapi",), "6.5.8", "works"),
    (("stale_csapi",), "6.0.14", "works"),
    (("stale_csapi",), "6.5.8", "works"),
    (("corrupt_newest",), "6.5.8", "works"),
    (("corrupt_newest",), "6.0.14", "works"),
    (("corrupt_active_csapi",), "6.5.8", "works"),
    (("corrupt_active_csapi",), "6.0.14", "works"),
    (("all_corrupt",), "6.5.8", "works"),
    (("all_corrupt",), "6.0.14", "works"),
    (("all_corrupt",), "6.5.8", "fails"),
    (("missing_marker",), "6.5.8", "works"),
    (("truncated_file",), "6.0.14", "works"),
    (("malformed_definfo",), "6.5.8", "works"),
    ((), "6.0.10", "works"),
    (("empty_stores",), "6.5.8", "works"),
)

#: the demo's mix of hosts, repeated to fill the lab: (faults, product version)
DEMO_MIX: tuple[tuple[tuple[str, ...], str], ...] = (
    ((), "6.5.8"),
    (("stale_csapi",), "6.5.8"),
    (("corrupt_newest",), "6.5.8"),
    ((), "6.0.14"),
    (("missing_marker",), "6.0.14"),
    (("corrupt_active_csapi",), "6.5.1"),
    (("truncated_file",), "6.0.10"),
    (("malformed_definfo",), "6.5.8"),
)


def build_host(root: Path, spec: LabHost, today: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Write one host and return its inventory variables."""
    unknown = [fault for fault in spec.faults if fault not in FAULTS]
    if unknown:
        raise ValueError(f"unknown lab fault(s) {', '.join(unknown)}: choose from {', '.join(sorted(FAULTS))}")
    if spec.agent not in AGENTS:
        raise ValueError(f"unknown lab agent {spec.agent!r} for {spec.name}: choose from {', '.join(AGENTS)}")
    host = root / spec.name
    if host.exists():
        shutil.rmtree(host)
    versions = set_versions(today, spec.sets)
    for store in ("hawking", "smsmse_hawking"):
        for version in versions:
            write_set(host / store, version)
        write_definfo(host / store, versions[-1], versions[-2] if len(versions) > 1 else None)
    for version in versions[-spec.csapi_sets :]:
        write_set(host / "csapi", version)
    write_definfo(host / "csapi", versions[-1])
    events: list[tuple[int, dt.datetime, str]] = [
        (30, now - dt.timedelta(hours=20), product.EVENT_MEANINGS[30]),
        (25, now - dt.timedelta(hours=19, minutes=50), product.EVENT_MEANINGS[25]),
    ]
    events += [(event_id, now - dt.timedelta(hours=1), product.event_meaning(event_id)) for event_id in spec.events]
    for fault in spec.faults:
        FAULTS[fault](host, versions, events)
    events_file = host / "events.jsonl"
    write_events(events_file, events)
    variables: dict[str, Any] = {
        "smsmse_defs_stores": {store: str(host / store) for store in STORES},
        "smsmse_defs_product": {"name": product.PRODUCT_NAME, "version": spec.version},
        "smsmse_defs_events_file": str(events_file),
        "smsmse_lab_faults": list(spec.faults),
    }
    if spec.liveupdate:
        variables["smsmse_defs_liveupdate_command"] = _liveupdate_command(host, spec.liveupdate)
    if spec.agent != "posix":
        variables[LAB_AGENT_VARIABLE] = spec.agent
    return variables


def agent_of(index: int, windows_every: int) -> str:
    """The agent of the ``index``-th host (from 0) when every ``windows_every``-th is served by the Windows agent (0: none)."""
    return "windows" if windows_every > 0 and (index + 1) % windows_every == 0 else "posix"


def fleet_hosts(count: int = len(FLEET_MIX), windows_every: int = 0) -> list[LabHost]:
    """The role demo's mix, repeated to fill ``count`` hosts; every ``windows_every``-th host on the Windows agent."""
    hosts = []
    for i in range(count):
        faults, version, liveupdate = FLEET_MIX[i % len(FLEET_MIX)]
        served_by = agent_of(i, windows_every)
        hosts.append(LabHost(name=f"mail{i + 1:02d}", version=version, faults=list(faults), liveupdate=liveupdate, agent=served_by))
    return hosts


def mono_missing() -> str | None:
    """Why this machine cannot serve a lab host by the Windows agent (Mono's mcs or mono not on PATH), or None."""
    missing = [tool for tool in ("mcs", "mono") if shutil.which(tool) is None]
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not on PATH, so no lab host can be served by the Windows agent's engine: install Mono "
        "(Debian: apt-get install mono-mcs mono-runtime, or scripts/ensure_mcs.sh as root)"
    )


def liveupdate_version(today: dt.date) -> str:
    """The version the lab's LiveUpdate delivers: today's, newer than any a lab host holds."""
    return f"{today:%Y%m%d}.004"


def liveupdate(host: Path, mode: str, today: dt.date | None = None) -> int:
    """What LiveUpdate does on a lab host: a new complete set in both Hawking stores (or, failing, nothing)."""
    if mode != "works":
        print("LiveUpdate: could not connect to the LiveUpdate server (lab host set to fail)", file=sys.stderr)
        return 1
    today = today or dt.datetime.now(dt.timezone.utc).date()
    version = liveupdate_version(today)
    for store in ("hawking", "smsmse_hawking"):
        write_set(host / store, version)
        write_definfo(host / store, version)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with (host / "events.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": 30, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": product.EVENT_MEANINGS[30]}) + "\n")
    print(f"LiveUpdate: installed {version}")
    return 0


def _liveupdate_command(host: Path, mode: str) -> list[str]:
    collections_root = Path(os.path.abspath(__file__)).parents[
        5
    ]  # the folder holding ansible_collections/ (not resolved: a link may be it)
    code = (
        f"import sys; sys.path.insert(0, {str(collections_root)!r}); "
        "from ansible_collections.mailsec.smsmse.plugins.plugin_utils import lab; "
        "from pathlib import Path; sys.exit(lab.liveupdate(Path(sys.argv[1]), sys.argv[2]))"
    )
    return [sys.executable, "-c", code, str(host), mode]


def demo_hosts(count: int, windows_every: int = 0) -> list[LabHost]:
    hosts = []
    for i in range(count):
        faults, version = DEMO_MIX[i % len(DEMO_MIX)]
        hosts.append(LabHost(name=f"lab{i + 1:02d}", version=version, faults=list(faults), agent=agent_of(i, windows_every)))
    return hosts


def build_lab(root: Path, hosts: Sequence[LabHost], *, today: dt.date | None = None, group_vars: dict[str, Any] | None = None) -> Path:
    """Write every host under ``root/hosts`` and the inventory ``root/inventory.yml``; return the inventory path.

    ``root/reference`` receives a clean copy of every version the hosts hold, as a
    vendor package would deliver it: the reference sets a catalog is built from.
    """
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    today = today or now.date()
    root = root.resolve()
    (root / "hosts").mkdir(parents=True, exist_ok=True)
    inventory_hosts = {spec.name: build_host(root / "hosts", spec, today, now) for spec in hosts}
    for version in sorted({v for spec in hosts for v in set_versions(today, spec.sets)} | {liveupdate_version(today)}):
        if not (root / "reference" / version).exists():
            write_set(root / "reference", version)
    inventory = {
        "all": {
            "children": {
                "smsmse_lab": {
                    "hosts": inventory_hosts,
                    "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **(group_vars or {})},
                },
                # the group the README's and the modules' examples target, so that they run on the lab as written
                "exchange_servers": {"children": {"smsmse_lab": {}}},
            }
        }
    }
    path = root / "inventory.yml"
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(json.dumps(inventory, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
