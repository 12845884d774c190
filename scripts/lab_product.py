"""Run the product emulator on the hosts of a lab (SMSMSE's copy cycle, one process per host).

    scripts/lab_product.py start --inventory LAB/inventory.yml [--period 0.5] [--continuous] [--host NAME ...]
    scripts/lab_product.py status --inventory LAB/inventory.yml
    scripts/lab_product.py stop --inventory LAB/inventory.yml
    scripts/lab_product.py run --inventory LAB/inventory.yml --host NAME [--period 0.5] [--cycles N]

``start`` leaves the processes running in the background and writes their ids to
``LAB/product/<host>.pid`` (their output goes to ``LAB/product/<host>.log``);
``stop`` ends exactly those processes. ``run`` is one host's emulator in the
foreground (``--cycles 1``: a single copy cycle). ``--continuous`` also copies whenever
the folder CSAPI names is gone (for race tests, with a period of a few
milliseconds), not only when CSAPI is older.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_product


def _pid_files(inventory: Path) -> list[Path]:
    return sorted((inventory.parent / "product").glob("*.pid"))


def _running(pid: int) -> bool:
    """Whether ``pid`` is alive and is one of our emulators (not a recycled id)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return b"lab_product" in cmdline


def start(inventory: Path, hosts: list[str], period: float, continuous: bool = False) -> int:
    running = {path.stem for path in _pid_files(inventory) if _running(int(path.read_text()))}
    if running:
        print(f"emulators already run for {', '.join(sorted(running))}: stop them first", file=sys.stderr)
        return 1
    processes = lab_product.start(inventory, hosts or None, period, continuous=continuous)
    for name, process in processes.items():
        (inventory.parent / "product" / f"{name}.pid").write_text(f"{process.pid}\n")
        print(f"{name}: pid {process.pid}")
    return 0


def status(inventory: Path) -> int:
    for path in _pid_files(inventory):
        pid = int(path.read_text())
        print(f"{path.stem}: pid {pid} {'running' if _running(pid) else 'gone'}")
    return 0


def stop(inventory: Path) -> int:
    pids = {path: int(path.read_text()) for path in _pid_files(inventory)}
    for pid in pids.values():
        if _running(pid):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for path, pid in pids.items():
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
        path.unlink()
        print(f"{path.stem}: stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["run"]:
        return lab_product.main(args)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "status", "stop", "run"])
    parser.add_argument("--inventory", type=Path, required=True, help="the lab's inventory.yml")
    parser.add_argument("--host", action="append", default=[], help="only this host (repeatable; default: every host)")
    parser.add_argument("--period", type=float, default=0.5, help="seconds between copy cycles (default 0.5)")
    parser.add_argument("--continuous", action="store_true", help="copy also whenever the folder CSAPI names is gone")
    parsed = parser.parse_args(args)
    if parsed.period <= 0:
        parser.error("--period must be more than 0 seconds")
    if parsed.action == "start":
        return start(parsed.inventory.resolve(), parsed.host, parsed.period, parsed.continuous)
    return status(parsed.inventory.resolve()) if parsed.action == "status" else stop(parsed.inventory.resolve())


if __name__ == "__main__":
    sys.exit(main())
