"""Promotion: the apply steps of a promote of a ~300 MB set (lock, expect, clean, preflight, stage with hashing
while copying and a flush, rename, pointer swap, unlock) against cp -r.

    python bench/promotion.py

Goal: at least 0.7x the throughput of cp -r while also hashing. cp -r followed by sync is shown too:
the stage step flushes every file to disk before the rename, which cp -r alone does not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import WORK, best_of, big_set, drop_caches_if_possible, set_bytes, table
from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

VERSION = "20261125.003"
OLD_POINTER = b"[DefDates]\r\nCurDefs=20261124.001\r\n"


def promote_steps(source: Path, target: Path, manifest: dict[str, dict[str, object]], size: int) -> list[steps.Step]:
    """The steps a promote plans for a store that does not hold the set (plugins/plugin_utils/_change/plan.py)."""
    group = steps.Group(str(target), 900, hashlib.sha256(OLD_POINTER).hexdigest())
    staging = f"{contract.wire()['staging_prefix']}{VERSION}-bench"
    names: dict[str, Any] = {"from": staging, "to": VERSION}
    body = [
        steps.step("stage", str(target), source=str(source), name=staging, manifest=manifest),
        steps.step("rename", str(target), **names),
        steps.write_pointer(str(target), f"[DefDates]\r\nCurDefs={VERSION}\r\n".encode(), group.expect_sha256, commit=True),
    ]
    return [*group.opening(pointer_writable=True, free_bytes=size), *body, *group.closing()]


def main() -> int:
    source_store = WORK / "promotion" / "hawking"
    source = big_set(source_store, VERSION)
    size = set_bytes(source)
    manifest: dict[str, dict[str, object]] = {
        p.name: {"size": p.stat().st_size, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in source.iterdir()
    }
    target = WORK / "promotion" / "csapi"
    copy_target = WORK / "promotion" / "copy"
    request = outcome.request(promote_steps(source, target, manifest, size))

    def reset() -> None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(copy_target, ignore_errors=True)
        target.mkdir(parents=True)
        (target / "definfo.dat").write_bytes(OLD_POINTER)
        drop_caches_if_possible()

    def promote() -> None:
        read = outcome.interpret(request, {"contract": 1, "op": "apply", **apply.run(request)})
        assert read["changed"] and not read["failed"] and read["bytes_copied"] == size, read["msg"]

    def cp() -> None:
        subprocess.run(["cp", "-r", str(source), str(copy_target)], check=True)

    def cp_sync() -> None:
        cp()
        subprocess.run(["sync"], check=True)

    ours = best_of(3, promote, reset)
    plain = best_of(3, cp, reset)
    synced = best_of(3, cp_sync, reset)
    reset()
    mb = size / 1e6
    table(
        f"Promotion of {mb:.0f} MB",
        [
            ("apply (promote steps) vs cp -r", f"{mb / ours:.0f} MB/s", f"{mb / plain:.0f} MB/s (cp -r)", f"{plain / ours:.2f}x (>= 0.7x)"),
            (
                "apply (promote steps) vs cp -r; sync",
                f"{mb / ours:.0f} MB/s",
                f"{mb / synced:.0f} MB/s (cp -r; sync)",
                f"{synced / ours:.2f}x (>= 0.7x)",
            ),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
