"""Print a defs_health report (``defs-health.json``) as a table: ``python scripts/report_table.py REPORT``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = ("host", "status", "csapi", "age", "product", "failing checks", "actions")


def rows(report: dict[str, Any]) -> list[list[str]]:
    found = []
    for host in report["hosts"]:
        versions = host["versions"]
        failing = ",".join(c["id"] for c in host["checks"] if c["status"] in ("fail", "error")) or "-"
        actions = ",".join(f"{a['action']}:{a['result']}" for a in host["actions"]) or "-"
        age = "-" if versions["age_days"] is None else f"{versions['age_days']}d"
        found.append([host["name"], host["status"], versions["csapi_active"] or "-", age, versions["product"] or "-", failing, actions])
    return found


def render(report: dict[str, Any]) -> str:
    table = rows(report)
    widths = [max(len(c), *(len(r[i]) for r in table)) if table else len(c) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip(), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    counts = report["summary"]["counts"]
    lines.append("")
    lines.append(f"{report['summary']['hosts']} hosts: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python scripts/report_table.py REPORT.json", file=sys.stderr)
        return 2
    print(render(json.loads(Path(argv[0]).read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
