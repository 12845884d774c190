"""Promotion: install_set of a ~300 MB set (copy, hash while copying, flush, rename, pointer swap) against cp -r.

    python bench/promotion.py

Goal: at least 0.7x the throughput of cp -r while also hashing. cp -r followed by sync is shown too:
install_set flushes every file to disk before the rename, which cp -r alone does not.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import WORK, best_of, big_set, drop_caches_if_possible, set_bytes, table
from ansible_collections.mailsec.smsmse.plugins.module_utils import store_ops

VERSION = "20261125.003"


def main() -> int:
    source_store = WORK / "promotion" / "hawking"
    source = big_set(source_store, VERSION)
    size = set_bytes(source)
    manifest = {p.name: {"size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in source.iterdir()}
    target = WORK / "promotion" / "csapi"
    copy_target = WORK / "promotion" / "copy"

    def reset() -> None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(copy_target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "definfo.dat").write_bytes(b"[DefDates]\r\nCurDefs=20261124.001\r\n")
        drop_caches_if_possible()

    def install() -> None:
        outcome = store_ops.install_set(
            {
                "store": str(target),
                "source": str(source),
                "version": VERSION,
                "manifest": manifest,
                "expect": {"definfo_sha256": store_ops.definfo_digest(str(target)), "active": "20261124.001"},
                "definfo_b64": base64.b64encode(f"[DefDates]\r\nCurDefs={VERSION}\r\n".encode()).decode(),
                "fallback_definfo_b64": None,
                "remove": [],
                "protect": [],
                "lock_stale_seconds": 900,
                "cache_dir": None,
                "events": [],
                "events_file": None,
                "restart": None,
            }
        )
        assert outcome["result"] == "done" and outcome["bytes_copied"] == size, outcome

    def cp() -> None:
        subprocess.run(["cp", "-r", str(source), str(copy_target)], check=True)

    def cp_sync() -> None:
        cp()
        subprocess.run(["sync"], check=True)

    ours = best_of(3, install, reset)
    plain = best_of(3, cp, reset)
    synced = best_of(3, cp_sync, reset)
    reset()
    mb = size / 1e6
    table(
        f"Promotion of {mb:.0f} MB",
        [
            ("install_set vs cp -r", f"{mb / ours:.0f} MB/s", f"{mb / plain:.0f} MB/s (cp -r)", f"{plain / ours:.2f}x (>= 0.7x)"),
            (
                "install_set vs cp -r; sync",
                f"{mb / ours:.0f} MB/s",
                f"{mb / synced:.0f} MB/s (cp -r; sync)",
                f"{synced / ours:.2f}x (>= 0.7x)",
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
