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
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab.lab_faults import (
    FAULTS,
    missing_usage_set,
    odd_version_names,
    tamper_keep_mtime,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab.lab_files import (
    DEFAULT_FILES,
    MARKER,
    OTHER_CODE,
    SMSMSE_CODE,
    SOURCES,
    STORES,
    file_bytes,
    read_usage,
    set_versions,
    write_definfo,
    write_events,
    write_set,
    write_usage,
)

__all__ = [
    "AGENTS",
    "DEFAULT_FILES",
    "FAULTS",
    "LAB_AGENT_VARIABLE",
    "MARKER",
    "OTHER_CODE",
    "SMSMSE_CODE",
    "STORES",
    "LabHost",
    "agent_of",
    "build_host",
    "build_lab",
    "demo_hosts",
    "file_bytes",
    "fleet_hosts",
    "liveupdate",
    "liveupdate_version",
    "missing_usage_set",
    "mono_missing",
    "odd_version_names",
    "read_usage",
    "set_versions",
    "tamper_keep_mtime",
    "write_definfo",
    "write_events",
    "write_set",
    "write_usage",
]

#: the agents a lab host can be served by, and the inventory variable that picks one
AGENTS = agent.LAB_AGENTS
LAB_AGENT_VARIABLE = agent.LAB_AGENT_VARIABLE


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
    for store in SOURCES:
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
    for store in SOURCES:
        write_set(host / store, version)
        write_definfo(host / store, version)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with (host / "events.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": 30, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": product.EVENT_MEANINGS[30]}) + "\n")
    print(f"LiveUpdate: installed {version}")
    return 0


def _liveupdate_command(host: Path, mode: str) -> list[str]:
    collections_root = Path(os.path.abspath(__file__)).parents[
        6
    ]  # the folder holding ansible_collections/ (not resolved: a link may be it)
    code = (
        f"import sys; sys.path.insert(0, {str(collections_root)!r}); "
        "from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab; "
        "from pathlib import Path; sys.exit(lab.liveupdate(Path(sys.argv[1]), sys.argv[2]))"
    )
    return [sys.executable, "-c", code, str(host), mode]


def demo_hosts(count: int, windows_every: int = 0) -> list[LabHost]:
    hosts = []
    for i in range(count):
        faults, version = DEMO_MIX[i % len(DEMO_MIX)]
        hosts.append(LabHost(name=f"lab{i + 1:02d}", version=version, faults=list(faults), agent=agent_of(i, windows_every)))
    return hosts


def build_lab(
    root: Path, hosts: Sequence[LabHost], *, today: dt.date | None = None, group_vars: Mapping[str, object] | None = None
) -> Path:
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
