"""Installing a set from a distribution point: the apply steps of an import (lock, expect, clean, preflight, fetch over
HTTPS while hashing and checking each file against the catalog's manifest, a flush, rename, pointer swap, unlock)
against curl downloading the same files to disk, then sync, in one run.

    python bench/distpoint.py [--size-mb 315] [--files 30] [--runs 1]

The distribution point is Debian's nginx on 127.0.0.1 (a free port, a CA made for the run; scripts/ensure_nginx.sh
installs it where it can), serving a set of random bytes. The agent's steps run in a child process, whose peak
resident memory is read from the kernel (``wait4``). Goals: at least 0.7x curl's throughput (curl + sync time over
ours), and the agent's peak memory under 64 MB.

Each run times the agent, then curl, right after it (caches dropped before each where the machine lets us); the ratio
printed is the median of the runs' own ratios, and the throughputs the medians of each side: on a shared machine the
best run of one side and the best run of the other may come from different moments of load.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import WORK, drop_caches_if_possible, table
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.tests import distpoint_server

VERSION = "20261125.003"
OLD_POINTER = b"[DefDates]\r\nCurDefs=20261124.001\r\n"
GOAL_RATIO = 0.7
GOAL_MEMORY_MB = 64
RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
reply = apply.run(json.load(open(sys.argv[2])))
bad = [s for s in reply["steps"] if s["result"] != "done"]
print(json.dumps({"bad": bad, "fetched": next(s["data"] for s in reply["steps"] if s["op"] == "fetch")}))
"""


def make_set(www: Path, size_mb: int, files: int) -> dict[str, dict[str, Any]]:
    """``files`` files of random bytes, ``size_mb`` MB in all, and the marker: the manifest (made once per size)."""
    folder = www / VERSION
    index = www / f"manifest-{size_mb}-{files}.json"
    if index.exists() and folder.is_dir():
        loaded: dict[str, dict[str, Any]] = json.loads(index.read_text())
        return loaded
    shutil.rmtree(www, ignore_errors=True)
    folder.mkdir(parents=True)
    each = size_mb * 1_000_000 // files
    manifest: dict[str, dict[str, Any]] = {}
    for i in range(files):
        name = f"virscan{i + 1}.dat"
        digest = hashlib.sha256()
        with open(folder / name, "wb") as handle:
            left = each
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                handle.write(chunk)
                digest.update(chunk)
                left -= len(chunk)
        manifest[name] = {"size": each, "sha256": digest.hexdigest()}
    (folder / "zdone.dat").write_bytes(b"done\r\n")
    manifest["zdone.dat"] = {"size": 6, "sha256": hashlib.sha256(b"done\r\n").hexdigest()}
    index.write_text(json.dumps(manifest))
    return manifest


def import_request(store: Path, url: str, ca: Path, manifest: dict[str, dict[str, Any]], size: int) -> steps.Request:
    """The steps an import plans for a store that does not hold the set (plugins/plugin_utils/_change/plan.py, import_set)."""
    group = steps.Group(str(store), 900, hashlib.sha256(OLD_POINTER).hexdigest())
    staging = f"{contract.wire()['staging_prefix']}{VERSION}-bench"
    names: dict[str, Any] = {"from": staging, "to": VERSION}
    fetch = steps.step(
        "fetch",
        str(store),
        source=f"{url}/{VERSION}",
        name=staging,
        manifest=manifest,
        timeout_seconds=60,
        deadline_seconds=3600,
        validate_certs=True,
        ca_path=str(ca),
    )
    body = [
        fetch,
        steps.step("rename", str(store), **names),
        steps.write_pointer(str(store), f"[DefDates]\r\nCurDefs={VERSION}\r\n".encode(), group.expect_sha256, commit=True),
    ]
    return contract.check_request(
        "apply",
        steps.request(
            [*group.opening(pointer_writable=True, free_bytes=size), *body, *group.closing()], wire=contract.wire(), cache_dir=None
        ),
    )


def run_agent(request_file: Path) -> tuple[float, float]:
    """(seconds, peak resident MB) of the agent's apply in a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(Path(__file__).resolve().parents[1] / ".build" / "collections"), str(request_file)],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, output
    result = json.loads(output)
    assert result["bad"] == [], result["bad"]
    return elapsed, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def run_curl(url: str, ca: Path, names: list[str], target: Path) -> float:
    """Seconds for one curl (one connection, kept alive) to download every file to disk, then sync."""
    target.mkdir(parents=True)
    command = ["curl", "--silent", "--show-error", "--fail", "--cacert", str(ca)]
    for name in names:
        command += ["-o", str(target / name), f"{url}/{VERSION}/{name}"]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size-mb", type=int, default=315)
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    binary = distpoint_server.nginx_binary()
    if binary is None or shutil.which("curl") is None:
        print(f"skipped: {distpoint_server.NO_NGINX if binary is None else 'curl is not installed'}")
        return 0
    base = WORK / "distpoint"
    www = base / "www"
    manifest = make_set(www, args.size_mb, args.files)
    size = sum(int(entry["size"]) for entry in manifest.values())
    with tempfile.TemporaryDirectory(prefix="nginx-", dir=base) as scratch:
        pki = distpoint_server.make_ca(Path(scratch) / "pki")
        server = distpoint_server.Nginx(binary, www, Path(scratch) / "nginx", pki).start()
        try:
            ours, baseline, memory = [], [], []
            for _run in range(args.runs):
                store = base / "store"
                shutil.rmtree(store, ignore_errors=True)
                store.mkdir(parents=True)
                (store / "definfo.dat").write_bytes(OLD_POINTER)
                request_file = base / "request.json"
                request_file.write_text(json.dumps(import_request(store, server.url, pki.ca, manifest, size)))
                drop_caches_if_possible()
                seconds, peak = run_agent(request_file)
                ours.append(seconds)
                memory.append(peak)
                shutil.rmtree(store, ignore_errors=True)
                copy = base / "curl"
                shutil.rmtree(copy, ignore_errors=True)
                drop_caches_if_possible()
                baseline.append(run_curl(server.url, pki.ca, sorted(manifest), copy))
                shutil.rmtree(copy, ignore_errors=True)
        finally:
            server.stop()
    mb = size / 1e6
    mine, theirs, peak = statistics.median(ours), statistics.median(baseline), max(memory)
    ratio = statistics.median(b / a for a, b in zip(ours, baseline, strict=True))
    table(
        f"Install of a {mb:.0f} MB set ({len(manifest)} files) from nginx over HTTPS on 127.0.0.1, {args.runs} run(s)",
        [
            ("import steps vs curl + sync", f"{mb / mine:.0f} MB/s", f"{mb / theirs:.0f} MB/s", f"{ratio:.2f}x (>= {GOAL_RATIO}x)"),
            ("agent peak memory", f"{peak:.0f} MB", "-", f"{'met' if peak < GOAL_MEMORY_MB else 'missed'} (< {GOAL_MEMORY_MB} MB)"),
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
