"""Hashing: a cold verify of a ~300 MB set against sha256sum over the same files; then a warm verify from the cache.

    python bench/hashing.py

Goals: cold throughput at least 0.9x sha256sum's; warm verify under 5% of the cold time, 0 bytes hashed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import WORK, best_of, big_set, drop_caches_if_possible, set_bytes, table
from ansible_collections.mailsec.smsmse.plugins.module_utils import scan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import facts


def main() -> int:
    store = WORK / "hashing" / "store"
    folder = big_set(store)
    size = set_bytes(folder)
    files = sorted(str(p) for p in folder.iterdir())
    cache = WORK / "hashing" / "cache"
    cold_caches = drop_caches_if_possible()

    def ours_cold() -> None:
        record = scan.scan_store("csapi", str(store), facts.LIMITS, {"deep": True, "cache_dir": str(cache)})
        assert record["hash_stats"]["bytes_hashed"] == size

    def sha256sum() -> None:
        subprocess.run(["sha256sum", *files], check=True, stdout=subprocess.DEVNULL)

    before = drop_caches_if_possible if cold_caches else None
    sha = best_of(3, sha256sum, before)
    cold = best_of(3, ours_cold, before)
    scan.scan_store("csapi", str(store), facts.LIMITS, {"deep": False, "cache_dir": str(cache)})
    stats: dict[str, int] = {}

    def ours_warm() -> None:
        record = scan.scan_store("csapi", str(store), facts.LIMITS, {"deep": False, "cache_dir": str(cache)})
        stats.update(record["hash_stats"])

    warm = best_of(5, ours_warm)
    shutil.rmtree(cache, ignore_errors=True)
    mb = size / 1e6
    caches = "page cache dropped before each run" if cold_caches else "page cache warm (could not drop it)"
    table(
        f"Hashing {mb:.0f} MB in {len(files)} files, {caches}",
        [
            ("cold verify throughput", f"{mb / cold:.0f} MB/s", f"{mb / sha:.0f} MB/s (sha256sum)", f"{sha / cold:.2f}x (>= 0.9x)"),
            ("warm verify time", f"{warm * 1000:.1f} ms", f"{cold * 1000:.0f} ms (cold verify)", f"{100 * warm / cold:.2f}% (< 5%)"),
            ("warm verify bytes hashed", str(stats["bytes_hashed"]), "-", "0 (= 0)"),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
