"""Shared helpers of the benchmarks: paths, a big set, timing, and the table they print last."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / ".build" / "collections"
WORK = ROOT / ".build" / "bench"
BIN = Path(sys.executable).parent


SET_FILES = 30
SET_FILE_SIZE = 10 * 1024 * 1024  # 30 x 10 MiB: about 300 MB


def big_set(folder: Path, version: str = "20261125.003") -> Path:
    """A set of about 300 MB of random bytes (made once, then reused)."""
    target = folder / version
    marker = target / "zdone.dat"
    if marker.exists() and len(list(target.iterdir())) == SET_FILES + 1:
        return target
    target.mkdir(parents=True, exist_ok=True)
    for i in range(SET_FILES):
        with open(target / f"virscan{i + 1}.dat", "wb") as handle:
            for _chunk in range(SET_FILE_SIZE // (1 << 20)):
                handle.write(os.urandom(1 << 20))
    marker.write_bytes(b"done\r\n")
    return target


def set_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def drop_caches_if_possible() -> bool:
    """Cold reads where the machine lets us (root on Linux); both sides of a ratio get the same treatment."""
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def best_of(runs: int, action: Callable[[], object], before: Callable[[], object] | None = None) -> float:
    """The median of ``runs`` timings (seconds) of ``action``."""
    times = []
    for _run in range(runs):
        if before:
            before()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def table(title: str, rows: Sequence[tuple[str, str, str, str]]) -> None:
    """Print the result last: measure, ours, baseline, ratio/goal."""
    print(f"\n{title} ({machine()})")
    widths = [max(len(r[i]) for r in [("measure", "ours", "baseline", "ratio (goal)"), *rows]) for i in range(4)]
    for row in [("measure", "ours", "baseline", "ratio (goal)"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def ansible_env() -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_PIPELINING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
