"""The product in the lab: SMSMSE's own copy cycle, run against one lab host.

SMSMSE checks its source store (SMSMSE Hawking where it exists, else Hawking)
every 10 minutes and copies a newer set into CSAPI (event 25). From 6.5.1 and
6.0.12 on it checks the set first: a corrupt newest set makes it use the
previous good one (399/393); no good set at all makes it run LiveUpdate
(400/394), and when that fails too while CSAPI holds nothing good, the scanner
cannot start (401/395). Older versions copy blindly, corrupt or not. Every
version fails to start while a source store's ``usage.dat`` gives SMSMSE a set
that store no longer holds (TECH84196): the cycle then writes 401/395 (no event
on lines the vendor names none for) and copies nothing.

:class:`Emulator` does the same on a short period. Like the product, it knows
nothing of the collection's store lock: it copies into its own temporary
folder, renames it into place and rewrites ``definfo.dat`` whenever it sees
fit, so the collection's compare-and-swap has to notice. It never deletes or
replaces a set folder. A set is good here
when it holds exactly the lab's files with the lab's bytes
(:func:`lab.file_bytes`), since the lab has no vendor signature to check.

In ``continuous`` mode (for race tests) it also repairs what it finds broken:
every cycle, whenever the folder CSAPI names is missing, it copies its set in
again and points CSAPI at it (a set older than CSAPI's is never put in use). With
a period of a few milliseconds it copies all through a change.

Run one emulator per host with :func:`command` (what ``scripts/lab_product.py``
starts), or in a thread with :meth:`Emulator.run`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import (
    CUR_DEFS,
    DEFDATES,
    LAST_DEFS,
    DefinfoError,
    new_definfo,
    parse_definfo,
    render_definfo,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.store_names import SOURCE_STORES, SOURCES_IN_TABLE_ORDER
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions

DEFINFO = "definfo.dat"
#: the product's own staging: temporary names our agent and facts treat as leftovers, never as sets
TEMP_PREFIX = "tmp"
LIVEUPDATE_TIMEOUT = 120


@dataclass
class ProductHost:
    """What the emulator needs to know of one lab host (read from the lab's inventory)."""

    name: str
    stores: dict[str, str]
    version: str
    events_file: str
    liveupdate: list[str] | None = None

    @classmethod
    def from_hostvars(cls, name: str, hostvars: Mapping[str, object]) -> ProductHost:
        stores, given, command = (
            hostvars["smsmse_defs_stores"],
            hostvars["smsmse_defs_product"],
            hostvars.get("smsmse_defs_liveupdate_command"),
        )
        if not isinstance(stores, Mapping) or not isinstance(given, Mapping) or (command is not None and not isinstance(command, list)):
            raise ValueError(f"{name} is not a host of a lab inventory (smsmse_defs_stores, smsmse_defs_product)")
        return cls(
            name=name,
            stores={str(store): str(path) for store, path in stores.items()},
            version=str(given["version"]),
            events_file=str(hostvars["smsmse_defs_events_file"]),
            liveupdate=[str(arg) for arg in command] if command else None,
        )

    @property
    def self_verifies(self) -> bool:
        return bool(product.describe(product.PRODUCT_NAME, self.version)["self_verifies"])

    def missing_usage(self) -> list[str]:
        """``store: set`` for every set a source store's usage.dat gives SMSMSE that the store does not hold."""
        found = []
        for name in SOURCES_IN_TABLE_ORDER:
            store = Path(self.stores[name]) if name in self.stores else None
            if store is None:
                continue
            for version, codes in lab.read_usage(store).items():
                if any(code.upper().startswith("SMSMSE") for code in codes) and not (store / version).is_dir():
                    found.append(f"{name}: {version}")
        return found

    def source(self) -> Path:
        """SMSMSE Hawking where it exists, else Hawking: the store the product copies from."""
        for name in SOURCE_STORES:
            if name in self.stores and os.path.isdir(self.stores[name]):
                return Path(self.stores[name])
        return Path(next((self.stores[name] for name in SOURCE_STORES if self.stores.get(name)), None) or self.stores[SOURCE_STORES[-1]])


def read_hosts(inventory: Path) -> dict[str, ProductHost]:
    """Every host of a lab inventory (as :func:`lab.build_lab` writes it)."""
    group = json.loads(inventory.read_text(encoding="utf-8"))["all"]["children"]["smsmse_lab"]["hosts"]
    return {name: ProductHost.from_hostvars(name, hostvars) for name, hostvars in group.items() if "smsmse_defs_product" in hostvars}


# --- what the product sees ---


def set_versions(store: Path) -> list[str]:
    """The version folders of ``store``, oldest first (links and other names ignored)."""
    try:
        names = [entry.name for entry in os.scandir(store) if entry.is_dir(follow_symlinks=False) and versions.is_version(entry.name)]
    except OSError:
        return []
    return sorted(names, key=versions.parse_version)


def is_good(folder: Path, version: str) -> bool:
    """Whether ``folder`` is a complete set of ``version`` with exactly the lab's files and bytes."""
    expected = {name: lab.file_bytes(version, name, size) for name, size in lab.DEFAULT_FILES}
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        entries = {entry.name: entry for entry in os.scandir(folder)}
        if set(entries) != {*expected, lab.MARKER}:
            return False
        for name, entry in entries.items():
            if not entry.is_file(follow_symlinks=False):
                return False
            if name != lab.MARKER and Path(entry.path).read_bytes() != expected[name]:
                return False
    except OSError:
        return False
    return True


def active(store: Path) -> str | None:
    """The version ``definfo.dat`` names, or None when there is none or it cannot be read."""
    try:
        return parse_definfo((store / DEFINFO).read_bytes()).cur_defs
    except (OSError, DefinfoError):
        return None


def _older(a: str | None, b: str) -> bool:
    """Whether version ``a`` is older than ``b`` (no version, or not one, counts as older)."""
    return a is None or not versions.is_version(a) or versions.parse_version(a) < versions.parse_version(b)


# --- what the product does ---


def copy_set(source: Path, store: Path, version: str) -> None:
    """Copy ``source`` into ``store/version`` the product's way: into a temporary folder, then renamed.

    The new folder appears whole in one rename; an existing folder of that
    version is never replaced (the rename then fails and the cycle is retried).
    """
    temp = store / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}"
    try:
        shutil.copytree(source, temp, symlinks=True)
        if os.path.lexists(store / version):
            raise FileExistsError(errno.EEXIST, "a folder of this version appeared meanwhile", str(store / version))
        os.rename(temp, store / version)
    finally:
        if os.path.lexists(temp):
            shutil.rmtree(temp, ignore_errors=True)


def point(store: Path, version: str) -> None:
    """Rewrite ``definfo.dat`` naming ``version``, keeping its other lines (a temporary file, then replaced)."""
    path = store / DEFINFO
    try:
        info = parse_definfo(path.read_bytes())
        previous = info.cur_defs
        changed = info.with_value(DEFDATES, CUR_DEFS, version)
        if previous and previous != version and info.get(DEFDATES, LAST_DEFS) is not None:
            changed = changed.with_value(DEFDATES, LAST_DEFS, previous)
        content = render_definfo(changed)
    except (OSError, DefinfoError):
        content = render_definfo(new_definfo(version))
    temp = store / f"~definfo-{uuid.uuid4().hex[:8]}.tmp"
    temp.write_bytes(content)
    os.replace(temp, path)


@dataclass
class Emulator:
    """The SMSMSE copy cycle of one lab host."""

    host: ProductHost
    period: float = 0.5
    #: copy also whenever the folder CSAPI names is gone, not only when CSAPI is older
    continuous: bool = False
    #: what the last cycle reported, so that a condition is logged once, not every cycle
    _last: str | None = field(default=None, repr=False)

    def log(self, event_id: int, message: str) -> None:
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = {"id": event_id, "time": now, "message": message, "source": product.PRODUCT_NAME}
        with open(self.host.events_file, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def _once(self, condition: str, event_id: int, message: str) -> None:
        if self._last != condition:
            self.log(event_id, message)
        self._last = condition

    def _wants(self, csapi: Path, current: str | None, version: str) -> bool:
        """Whether the product installs ``version`` now: CSAPI is older (continuous: or the folder CSAPI names is gone)."""
        if _older(current, version):
            return True
        return self.continuous and (current is None or not os.path.isdir(csapi / current))

    def cycle(self) -> str:
        """One check of the source store; returns what it did (for logs and tests)."""
        missing = self.host.missing_usage()
        if missing:  # TECH84196: the definitions usage.dat gives the product are gone; it cannot start
            line = product.line_of(product.version_tuple(self.host.version) or (0, 0, 0))
            text = f"Failed to initialize AV scanner: usage.dat names {', '.join(missing)}, which no longer exist."
            if line.scheme:
                self._once("usage_missing", product.SCHEMES[line.scheme].init_failed, text)
            self._last = "usage_missing"
            return "usage_missing"
        source = self.host.source()
        csapi = Path(self.host.stores["csapi"])
        found = set_versions(source)
        current = active(csapi)
        if not self.host.self_verifies:
            if found and self._wants(csapi, current, found[-1]):
                return self._install(source, csapi, found[-1], 25, f"Updated virus definitions to {found[-1]}")
            return "idle"
        scheme = product.SCHEMES[product.describe(product.PRODUCT_NAME, self.host.version)["scheme"]]
        good = [v for v in found if is_good(source / v, v)]
        if not good and self._last not in ("no_valid", "init_failed"):
            self.log(scheme.no_valid, "No valid virus definitions are available. Server will attempt to download new virus definitions.")
            self._last = "no_valid"
            if self._liveupdate():
                found = set_versions(source)
                good = [v for v in found if is_good(source / v, v)]
        if not good:
            if current is None or not is_good(csapi / current, current):
                self._once("init_failed", scheme.init_failed, "Failed to initialize AV scanner: definitions are missing or corrupt.")
            return self._last or "no_valid"
        newest = found[-1]
        if good[-1] != newest:
            if not self._wants(csapi, current, good[-1]):
                return "idle"
            folder = source / good[-1]
            return self._install(source, csapi, good[-1], scheme.rollback, f"Authenticity check failed; using previous {folder}")
        if self._wants(csapi, current, newest):
            return self._install(source, csapi, newest, 25, f"Updated virus definitions to {newest}")
        self._last = None
        return "idle"

    def _install(self, source: Path, csapi: Path, version: str, event_id: int, message: str) -> str:
        """Copy ``version`` into CSAPI unless it holds it already, then point CSAPI at it.

        A folder of that version already in CSAPI is used as it is; a self-verifying
        product checks it first and leaves a damaged one alone (it never deletes).
        """
        if not os.path.lexists(csapi / version):
            copy_set(source / version, csapi, version)
        elif self.host.self_verifies and not is_good(csapi / version, version):
            return f"skipped: {csapi / version} is damaged"
        point(csapi, version)
        self.log(event_id, message)
        self._last = None
        return f"installed {version}"

    def _liveupdate(self) -> bool:
        """Run the host's LiveUpdate (a silent session); whether it ran and succeeded."""
        if not self.host.liveupdate:
            return False
        try:
            done = subprocess.run(self.host.liveupdate, capture_output=True, timeout=LIVEUPDATE_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    def run(self, stop: threading.Event, cycles: int | None = None) -> None:
        """Cycle every ``period`` seconds until ``stop`` is set (or ``cycles`` have run); a failed cycle is retried."""
        done = 0
        while not stop.is_set() and (cycles is None or done < cycles):
            try:
                outcome = self.cycle()
            except OSError as exc:  # racing another writer: the product tries again next cycle
                outcome = f"cycle failed: {exc}"
            if outcome != "idle":
                print(f"{dt.datetime.now(dt.timezone.utc):%H:%M:%S.%f} {self.host.name}: {outcome}", flush=True)
            done += 1
            stop.wait(self.period)


def command(inventory: Path, host: str, period: float, *, continuous: bool = False) -> list[str]:
    """The argument list of one emulator process for ``host`` of the lab at ``inventory``."""
    collections_root = Path(os.path.abspath(__file__)).parents[6]  # the folder holding ansible_collections/
    code = (
        f"import sys; sys.path.insert(0, {str(collections_root)!r}); "
        "from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_product; "
        "sys.exit(lab_product.main(sys.argv[1:]))"
    )
    argv = [sys.executable, "-c", code, "run", "--inventory", str(inventory), "--host", host, "--period", str(period)]
    return [*argv, "--continuous"] if continuous else argv


def start(
    inventory: Path, hosts: Sequence[str] | None = None, period: float = 0.5, *, continuous: bool = False
) -> dict[str, subprocess.Popen[bytes]]:
    """Start one emulator process per host (all hosts by default); logs go to ``<lab>/product/<host>.log``."""
    names = list(hosts) if hosts else sorted(read_hosts(inventory))
    logs = inventory.parent / "product"
    logs.mkdir(exist_ok=True)
    started = {}
    for name in names:
        with open(logs / f"{name}.log", "ab") as log:
            started[name] = subprocess.Popen(
                command(inventory, name, period, continuous=continuous), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
    return started


def stop(processes: Mapping[str, subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """Stop the processes :func:`start` returned (each by its own id)."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    """``run --inventory INV --host H [--period S] [--cycles N]``: the emulator of one host, in the foreground."""
    parser = argparse.ArgumentParser(prog="lab_product")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run the copy cycle of one lab host until stopped")
    run.add_argument("--inventory", type=Path, required=True)
    run.add_argument("--host", required=True)
    run.add_argument("--period", type=float, default=0.5)
    run.add_argument("--cycles", type=int, default=None)
    run.add_argument("--continuous", action="store_true", help="copy also whenever the folder CSAPI names is gone")
    args = parser.parse_args(argv)
    hosts = read_hosts(args.inventory)
    if args.host not in hosts:
        parser.error(f"{args.host} is not a host of {args.inventory}: choose from {', '.join(sorted(hosts))}")
    if args.period <= 0:
        parser.error("--period must be more than 0 seconds")
    halt = threading.Event()
    with contextlib.suppress(ValueError):  # signals are for the main thread only
        signal.signal(signal.SIGTERM, lambda *_: halt.set())
    with contextlib.suppress(KeyboardInterrupt):
        Emulator(hosts[args.host], period=args.period, continuous=args.continuous).run(halt, cycles=args.cycles)
    return 0
