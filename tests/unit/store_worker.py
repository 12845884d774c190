"""Runs one store operation in its own process, for the crash and concurrency tests.

``python store_worker.py OP REQUEST.json`` prints ``ready``, waits for a line on
standard input, runs the operation and prints its outcome as JSON. OP is
``apply`` or one of store_ops' operations.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, store_ops


def main() -> None:
    op, request_file = sys.argv[1], sys.argv[2]
    request = json.loads(Path(request_file).read_text())
    print("ready", flush=True)
    sys.stdin.readline()
    outcome = apply.run(request) if op == "apply" else getattr(store_ops, op)(request)
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main()
