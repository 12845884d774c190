"""Fleet time: the defs_health role against a playbook with one ping task, same lab, same forks, in one run.

    python bench/fleet_time.py [--sizes 50,200] [--forks 20]      (make bench)
    python bench/fleet_time.py --sizes 1000                        (make bench-1000: long)
    python bench/fleet_time.py --sizes 1000 --report-only          (ping, report twice, ping: the goal's runs only)

Per size, in this order: ping, report (first run: cold hash cache), report (warm), enforce (fixes the lab's faults),
enforce again (the fleet as enforcement left it: compliant but for the hosts nothing can fix), ping again. The
baseline is the faster ping. Every run prints the wall time of its slowest tasks (a callback in bench/callback_plugins)
and the controller's peak memory: the summed PSS of ansible-playbook and its workers, sampled every 0.2 s.
At the largest size it also times writing the JSON, HTML and JUnit reports from the last run's records.

Goals (issue "A thousand servers at the cost of a ping"): report mode within 1.5x ping; enforce on a compliant fleet
the same as report mode; the ratio flat across sizes; peak memory within 1.5x ping's; the reports written in < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import BIN, WORK, ansible_env, table
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report

HERE = Path(__file__).resolve().parent
PING = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [root], [root]
    while todo:
        parent = todo.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        todo += children
    return found


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Run:
    """One timed command: wall time, peak summed PSS of its process tree, and the task times it printed."""

    def __init__(self, label: str, command: list[str]) -> None:
        env = {**ansible_env(), "ANSIBLE_CALLBACK_PLUGINS": str(HERE / "callback_plugins"), "ANSIBLE_CALLBACKS_ENABLED": "bench_task_times"}
        self.label, self.peak_kib = label, 0
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        done = threading.Event()
        sampler = threading.Thread(target=self._sample, args=(process.pid, done), daemon=True)
        sampler.start()
        out, err = process.communicate()
        self.seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        if process.returncode not in (0, 2):
            raise SystemExit(f"{label}: exit {process.returncode}\n{out[-3000:]}{err[-3000:]}")
        self.tasks: dict[str, float] = defaultdict(float)
        for line in out.splitlines():
            if line.startswith("TASK-TIME "):
                _tag, seconds, name = line.split(" ", 2)
                self.tasks[name.split(" : ")[-1][:60]] += float(seconds)

    def _sample(self, pid: int, done: threading.Event) -> None:
        while not done.wait(0.2):
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(p) for p in _descendants(pid)))

    def slowest(self, count: int = 6) -> str:
        top = sorted(self.tasks.items(), key=lambda item: -item[1])[:count]
        return "; ".join(f"{name} {seconds:.1f} s" for name, seconds in top)


def write_times(report_file: Path) -> dict[str, float]:
    """Seconds to write each format from the records of a written report (the defs_report step's writing)."""
    document = json.loads(report_file.read_text())
    times = {}
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("json", "html", "junit"):
            started = time.perf_counter()
            report.write(document, Path(folder), [fmt], history_runs=0)
            times[fmt] = time.perf_counter() - started
    return times


RUNS = (
    ("ping", "ping"),
    ("report, first run (cold hash cache)", "mailsec.smsmse.report"),
    ("report", "mailsec.smsmse.report"),
    ("enforce (fixes, LiveUpdate)", "mailsec.smsmse.enforce"),
    ("enforce again (compliant fleet)", "mailsec.smsmse.enforce"),
    ("ping again", "ping"),
)


def one_size(hosts: int, forks: str, report_only: bool) -> tuple[list[tuple[str, str, str, str]], dict[str, Run], Path]:
    root = WORK / f"fleet-{hosts}"
    shutil.rmtree(root, ignore_errors=True)
    inventory = str(lab.build_lab(root, lab.fleet_hosts(hosts), group_vars={"defs_health_report_dir": str(root / "reports")}))
    (root / "ping.yml").write_text(PING)
    playbook = str(BIN / "ansible-playbook")
    runs = {}
    for label, playbook_or_ping in RUNS:
        if report_only and label.startswith("enforce"):
            continue
        target = str(root / "ping.yml") if playbook_or_ping == "ping" else playbook_or_ping
        runs[label] = run = Run(label, [playbook, target, "-i", inventory, "-f", forks])
        print(f"  {hosts} hosts, {label}: {run.seconds:.1f} s, peak PSS {run.peak_kib / 1024:.0f} MiB; {run.slowest()}", flush=True)
    base = min(runs["ping"].seconds, runs["ping again"].seconds)
    goals = {"report": "<= 1.5x", "enforce again (compliant fleet)": "= report"}
    rows = [
        (f"{label}, {hosts} hosts", f"{run.seconds:.1f} s", f"{base:.1f} s (ping)", f"{run.seconds / base:.2f}x ({goals.get(label, '-')})")
        for label, run in runs.items()
        if not label.startswith("ping")
    ]
    return rows, runs, root / "reports" / "defs-health.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,200", help="comma-separated fleet sizes (default 50,200)")
    parser.add_argument("--forks", default="20")
    parser.add_argument("--report-only", action="store_true", help="leave out the two enforce runs (ping, report twice, ping)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    rows: list[tuple[str, str, str, str]] = []
    runs: dict[str, Run] = {}
    last_report = Path()
    for hosts in sizes:
        found, runs, last_report = one_size(hosts, args.forks, args.report_only)
        rows += found
    biggest = max(sizes)
    ping_peak = min(runs["ping"].peak_kib, runs["ping again"].peak_kib) or 1
    rows.append(
        (
            f"controller peak memory (PSS), report, {biggest} hosts",
            f"{runs['report'].peak_kib / 1024:.0f} MiB",
            f"{ping_peak / 1024:.0f} MiB (ping)",
            f"{runs['report'].peak_kib / ping_peak:.2f}x (<= 1.5x)",
        )
    )
    written = write_times(last_report)
    step = runs["report"].tasks.get("Write the fleet report", 0.0)
    rows.append(
        (
            f"write the reports, {biggest} hosts",
            f"{sum(written.values()):.2f} s",
            ", ".join(f"{fmt} {seconds:.2f} s" for fmt, seconds in written.items()),
            f"(< 2 s); whole report step {step:.1f} s",
        )
    )
    table(f"Fleet time, {args.forks} forks, against a playbook with one ping task", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
