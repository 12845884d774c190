"""Print the results that ``playbooks/facts.yml`` kept (``<host>.json`` files) as a table."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

COLUMNS = ("host", "product", "scheme", "verifies", "hawking", "smsmse_hawking", "csapi", "newest", "sets", "events")


def _store(facts: dict[str, Any], name: str) -> str:
    store = facts["stores"].get(name)
    if store is None:
        return "-"
    if store.get("definfo_error"):
        return f"(definfo.dat {store['definfo_error']['code']})"
    active = store["active"] or "none"
    incomplete = [s["version"] for s in store["sets"] if not s["complete"]]
    return active + (" (!marker)" if active in incomplete else "") + ("" if store["active_exists"] or not store["active"] else " (missing)")


def row(host: str, result: dict[str, Any]) -> list[str]:
    if result.get("failed"):
        code = (result.get("error") or {}).get("code", "FAILED")
        return [host, f"FAILED {code}: {(result.get('error') or {}).get('message', result.get('msg', ''))}"]
    facts = result["ansible_facts"]["smsmse_defs"]
    product = facts["product"]
    sets = sum(len(store["sets"]) for store in facts["stores"].values())
    events = ",".join(str(e["id"]) for e in facts["events"]) or "-"
    return [
        host,
        product["version"] or "-",
        product["scheme"],
        {True: "yes", False: "no", None: "?"}[product["self_verifies"]],
        _store(facts, "hawking"),
        _store(facts, "smsmse_hawking"),
        _store(facts, "csapi"),
        facts["newest"] or "-",
        str(sets),
        events,
    ]


def render(rows: list[list[str]]) -> str:
    full = [r for r in rows if len(r) == len(COLUMNS)]
    widths = [max(len(c), *(len(r[i]) for r in full)) if full else len(c) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        if len(r) == len(COLUMNS):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        else:
            lines.append(f"{r[0].ljust(widths[0])}  {r[1]}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: scripts/facts_table.py DIR", file=sys.stderr)
        return 2
    results = sorted(Path(argv[0]).glob("*.json"))
    if not results:
        print(f"no <host>.json results in {argv[0]}", file=sys.stderr)
        return 1
    print(render([row(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
