# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``apply`` primitives that tell the world: ``event`` (the events file) and ``service`` (the restart command).

POSIX hosts have no Application log and no SMSMSE service: events go to the
host's JSON-lines events file, and ``service`` runs the configured command.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils.primitives import Context, Refused
from ansible_collections.mailsec.smsmse.plugins.module_utils.regular_files import open_regular

SOURCE = "mailsec.smsmse"
#: runs an argument list and returns (exit code, stdout, stderr): AnsibleModule.run_command in the agent
CommandRunner = Callable[[list[str]], tuple[int, str, str]]


def event(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Append the events to the events file, one JSON line each, in one write."""
    events, events_file = args["events"], args["events_file"]
    if not events:
        return {"written": 0}
    if not events_file:
        return {"written": 0, "message": "no events file is configured for this host; no event was written"}
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = "".join(
        json.dumps({"id": e["id"], "time": now, "message": e["message"], "source": SOURCE, "type": e["type"]}) + "\n" for e in events
    )
    fd = open_regular(events_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644, follow=True)  # never waits on a FIFO
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
    return {"written": len(events)}


def _run(argv: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def service(ctx: Context, store: str, args: dict[str, Any], run_command: CommandRunner | None = None) -> dict[str, Any]:
    """Run the configured command, bounded by coreutils' timeout where the host has it.

    A ``start`` with ``only_if_stopped_here`` runs only after a ``stop`` step of this request ran, whatever that stop
    ended (a stop that failed or timed out may still be stopping the scanner, as the Windows agent's engine holds).
    """
    command = args["command"]
    if args["action"] == "start" and args.get("only_if_stopped_here") and store not in ctx.stopped:
        return {"exit_code": None, "output": "not run: this request did not stop the scanner", "started": False}
    if not command:
        raise Refused("failed", f"no command is configured to {args['action']} the scanner on this POSIX host", "NOT_CONFIGURED")
    if args["action"] == "stop":  # from here the scanner may be stopping, whatever the command ends: its start runs
        ctx.stopped.add(store)
    argv = list(command)
    limiter = shutil.which("timeout")
    if limiter:
        argv = [limiter, "--kill-after=10", str(args["timeout"]), *argv]
    code, out, err = (run_command or _run)(argv)
    output = (out + err)[-4000:]
    if limiter and code in (124, 137):
        raise Refused("timeout", f"{command[0]} did not finish within {args['timeout']} s", data={"exit_code": code, "output": output})
    if code != 0:
        raise Refused(
            "failed", f"{command[0]} exited {code}: {err.strip()[-500:]}", "COMMAND_FAILED", {"exit_code": code, "output": output}
        )
    if args["action"] == "stop":
        return {"exit_code": code, "output": output, "stopped": True}
    ctx.stopped.discard(store)
    return {"exit_code": code, "output": output, "started": True}
