"""Runs one ``apply`` request in its own process, for the crash and concurrency tests.

``python store_worker.py apply REQUEST.json`` prints ``ready``, waits for a line on
standard input, runs the request and prints the reply as JSON.

Switches of this worker (never of the agent) reach exact moments of a change:
``STORE_WORKER_KILL_BEFORE`` (a step's index from 0, or its op) kills the process with
SIGKILL right before that step runs;
``STORE_WORKER_NO_RENAMEAT2`` makes ``exchange`` fall back to two renames, as on a
kernel without ``renameat2(RENAME_EXCHANGE)``; ``STORE_WORKER_KILL_AFTER_ASIDE``
kills the process with SIGKILL right after the first rename of a folder to a trash
name (in ``exchange``'s fallback: between its two renames).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build" / "collections"))

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, primitives

NO_RENAMEAT2 = "STORE_WORKER_NO_RENAMEAT2"
KILL_BEFORE = "STORE_WORKER_KILL_BEFORE"
KILL_AFTER_ASIDE = "STORE_WORKER_KILL_AFTER_ASIDE"


def _killed_after_aside(trash_prefix: str) -> None:
    real = os.rename

    def rename(src: str, dst: str) -> None:
        real(src, dst)
        if os.path.basename(dst).startswith(trash_prefix):
            os.kill(os.getpid(), signal.SIGKILL)

    os.rename = rename  # type: ignore[assignment]


def _killed_before(wanted: str, request_steps: list[Any]) -> None:
    """The agent's steps run as usual, but the process dies with SIGKILL right before the step ``wanted`` names."""
    real = apply.run_step

    def run_step(ctx: Any, step: Any, run_command: Any, limit: int) -> Any:
        index = next(i for i, sent in enumerate(request_steps) if sent is step)
        if wanted in (str(index), str(step.get("op"))):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(ctx, step, run_command, limit)

    apply.run_step = run_step


def main() -> None:
    op, request_file = sys.argv[1], sys.argv[2]
    if op != "apply":
        raise SystemExit(f"unknown operation {op!r}: the worker runs apply")
    request = json.loads(Path(request_file).read_text())
    if os.environ.get(NO_RENAMEAT2):
        primitives.RENAMEAT2 = None
    if os.environ.get(KILL_BEFORE):
        _killed_before(os.environ[KILL_BEFORE], request["steps"])
    if os.environ.get(KILL_AFTER_ASIDE):
        _killed_after_aside(request["wire"]["trash_prefix"])
    print("ready", flush=True)
    sys.stdin.readline()
    print(json.dumps(apply.run(request)), flush=True)


if __name__ == "__main__":
    main()
