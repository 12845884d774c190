"""Build a lab of emulated SMSMSE servers: ``scripts/lab.py --dir DIR --hosts N [--fault F ...] [--windows-every N]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=Path, help="folder of the lab (hosts and inventory.yml)")
    parser.add_argument("--hosts", type=int, default=8, help="number of hosts (default 8)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted(lab.FAULTS),
        help="give every host this fault instead of the demo mix (repeatable)",
    )
    parser.add_argument("--version", default="6.5.8", help="product version with --fault (default 6.5.8)")
    parser.add_argument(
        "--windows-every",
        type=int,
        default=0,
        metavar="N",
        help="serve every N-th host by the Windows agent's engine under Mono (smsmse_defs_lab_agent: windows; default 0: none)",
    )
    args = parser.parse_args(argv)
    if args.hosts < 1:
        parser.error("--hosts must be at least 1")
    if args.windows_every < 0:
        parser.error("--windows-every must be 0 (no host) or more")
    if args.fault:
        hosts = [
            lab.LabHost(name=f"lab{i + 1:02d}", version=args.version, faults=list(args.fault), agent=lab.agent_of(i, args.windows_every))
            for i in range(args.hosts)
        ]
    else:
        hosts = lab.demo_hosts(args.hosts, args.windows_every)
    inventory = lab.build_lab(args.dir, hosts)
    print(inventory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
