"""Memory: peak RSS of the POSIX agent while it hashes a ~300 MB set (a probe with hashing, in its own process).

    python bench/memory.py

Goal: under 64 MB. The baseline is the same process doing a probe without hashing, measured in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import COLLECTIONS, WORK, big_set, table

CHILD = """
import json, resource, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
request = json.loads(open(sys.argv[2]).read())
reply = defs_agent_posix.probe(request)
stats = reply["stores"][0].get("hash_stats") or {}
print(json.dumps({"peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "bytes_hashed": stats.get("bytes_hashed", 0)}))
"""


def measure(store: str, hashing: dict[str, object] | None) -> dict[str, int]:
    request = {
        "stores": [{"name": "csapi", "template": store}],
        "product": None,
        "events_file": None,
        "event_ids": [],
        "event_hours": 1,
        "limits": {"max_files_per_dir": 20000, "max_definfo_bytes": 65536, "max_events": 0},
        "hashing": hashing,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(request, handle)
    done = subprocess.run([sys.executable, "-c", CHILD, str(COLLECTIONS), handle.name], capture_output=True, text=True, check=True)
    result: dict[str, int] = json.loads(done.stdout)
    return result


def main() -> int:
    store = WORK / "memory" / "store"
    big_set(store)
    cache = WORK / "memory" / "cache"
    base = measure(str(store), None)
    hashed = measure(str(store), {"deep": True, "cache_dir": str(cache)})
    assert hashed["bytes_hashed"] > 300_000_000
    peak, idle = hashed["peak_kb"] / 1024, base["peak_kb"] / 1024
    table(
        f"Memory of the POSIX agent hashing {hashed['bytes_hashed'] / 1e6:.0f} MB",
        [("peak RSS while hashing", f"{peak:.1f} MB", f"{idle:.1f} MB (probe without hashing)", f"{peak:.1f} MB (< 64 MB)")],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
