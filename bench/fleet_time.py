"""Fleet time: the role in report and enforce mode on a 200-host lab, against ansible -m ping with the same forks.

    python bench/fleet_time.py [HOSTS] [FORKS]      (default 200 hosts, 20 forks)

Goal: report mode (warm hash cache, as every run after the first) within 2x the ping time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.bench.common import BIN, WORK, ansible_env, table
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import lab


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=ansible_env(), check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 2):
        raise SystemExit(done.stdout[-3000:] + done.stderr[-3000:])
    return elapsed


def main(argv: list[str]) -> int:
    hosts = int(argv[0]) if argv else 200
    forks = argv[1] if len(argv) > 1 else "20"
    root = WORK / "fleet"
    shutil.rmtree(root, ignore_errors=True)
    inventory = str(lab.build_lab(root, lab.fleet_hosts(hosts), group_vars={"defs_health_report_dir": str(root / "reports")}))
    ping = timed([str(BIN / "ansible"), "all", "-i", inventory, "-m", "ansible.builtin.ping", "-f", forks])
    cold = timed([str(BIN / "ansible-playbook"), "mailsec.smsmse.report", "-i", inventory, "-f", forks])
    warm = timed([str(BIN / "ansible-playbook"), "mailsec.smsmse.report", "-i", inventory, "-f", forks])
    enforce = timed([str(BIN / "ansible-playbook"), "mailsec.smsmse.enforce", "-i", inventory, "-f", forks])
    ping_again = timed([str(BIN / "ansible"), "all", "-i", inventory, "-m", "ansible.builtin.ping", "-f", forks])
    base = min(ping, ping_again)
    table(
        f"Fleet time, {hosts} lab hosts, {forks} forks (ping: best of two runs, {ping:.1f} s and {ping_again:.1f} s)",
        [
            ("report mode, warm cache", f"{warm:.1f} s", f"{base:.1f} s (ping)", f"{warm / base:.2f}x (<= 2x)"),
            ("report mode, first run (cold cache)", f"{cold:.1f} s", f"{base:.1f} s (ping)", f"{cold / base:.2f}x (-)"),
            ("enforce mode (fixes, LiveUpdate)", f"{enforce:.1f} s", f"{base:.1f} s (ping)", f"{enforce / base:.2f}x (-)"),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
