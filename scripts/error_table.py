"""Write docs/errors.md from the error registry: ``python scripts/error_table.py``."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.plugins.plugin_utils.error_codes import REGISTRY  # noqa: E402

HEADER = """# Error codes

Every failure of a `mailsec.smsmse` module, and every problem `defs_verify` finds
in a set, carries a stable code (`error.code`, or `errors[].code`), a message
that says what happened, and the remediation below (after `Fix:` in a task's
`msg`). Codes never change meaning; new ones are added at the end. The table is
generated from `plugins/plugin_utils/error_codes.json` by `python scripts/error_table.py`,
and a test keeps the two equal.

| code | meaning | remediation |
|------|---------|-------------|
"""


def render() -> str:
    return HEADER + "".join(f"| `{e.code}` | {e.meaning} | {e.remediation} |\n" for e in REGISTRY)


if __name__ == "__main__":
    (ROOT / "docs" / "errors.md").write_text(render(), encoding="utf-8")
