# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX agent's ``apply``: run the controller's primitive steps in order and report each one.

The rules (docs/changes.md):

- steps run in the order given;
- a ``required`` step that does not end ``done`` makes every later step of
  its group that is not ``always`` end ``skipped`` (a group starts at its
  ``lock`` step; the next group starts afresh; a failure before the first
  ``lock`` blocks the whole request);
- a best-effort step's failure is recorded and the run goes on;
- a step that raises ends ``failed`` with the system's error name and text:
  the agent itself never crashes on a step;
- a request of more steps than the wire's ``max_steps`` is refused whole
  (:class:`TooManySteps`) before any step runs;
- the call's host-side deadline is asked before each step, never during one:
  once it has passed, every later step that is not ``always`` ends ``skipped``
  (its message names the deadline), except a store's steps from its
  ``service`` stop to its start, which run as one unit; the unit ends when
  that start has run, whatever it ended, and the deadline applies again. The
  lock is released, the scanner started and the stores read back as after any
  change that ends early.

The agent decides nothing: what the reply means is read on the controller
(plugins/plugin_utils/_change/outcome.py).
"""

from __future__ import annotations

import binascii
import errno
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import fetch, notify, primitives, read_back, set_removal
from ansible_collections.mailsec.smsmse.plugins.module_utils.primitives import Context, Refused

Primitive = Callable[[Context, str, dict[str, Any]], dict[str, Any]]

#: op -> the primitive that carries it out (service gets the agent's command runner)
PRIMITIVES: dict[str, Primitive] = {
    "lock": primitives.lock,
    "expect": primitives.expect,
    "preflight": primitives.preflight,
    "clean": primitives.clean,
    "stage": primitives.stage,
    "fetch": fetch.fetch,
    "matches": primitives.matches,
    "rename": primitives.rename,
    "exchange": primitives.exchange,
    "write_pointer": primitives.write_pointer,
    "retire": set_removal.retire,
    "quarantine": set_removal.quarantine,
    "event": notify.event,
    "service": notify.service,
    "unlock": primitives.unlock,
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _report(op: str, result: str, code: str | None, message: str, data: dict[str, Any], *, limit: int) -> dict[str, Any]:
    return {"op": op, "result": result, "code": code, "message": _cut(message, limit), "data": data}


def _failure(exc: BaseException) -> tuple[str, str]:
    """(code, text) of an exception: the errno name for system errors."""
    if isinstance(exc, OSError):
        code = errno.errorcode.get(exc.errno or 0) or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename else ""
        return code, f"{code}: {exc.strerror or exc}{where}"
    if isinstance(exc, (KeyError, TypeError, ValueError, binascii.Error)):
        return "BAD_REQUEST", f"the step's arguments cannot be used: {exc}"
    return type(exc).__name__, f"{type(exc).__name__}: {exc}"


def run_step(ctx: Context, step: dict[str, Any], run_command: notify.CommandRunner | None, limit: int) -> dict[str, Any]:
    """One step's report; never raises for what the step does."""
    op = step.get("op")
    if op not in PRIMITIVES:
        return _report(str(op)[:64], "failed", "BAD_REQUEST", f"unknown step {op!r}", {}, limit=limit)
    store = step.get("store")
    try:
        if not isinstance(store, str) or not os.path.isabs(store):
            raise ValueError(f"the store {store!r} is not a full path")
        data = notify.service(ctx, store, step["args"], run_command) if op == "service" else PRIMITIVES[op](ctx, store, step["args"])
    except Refused as refused:
        return _report(op, refused.result, refused.code, refused.message, refused.data, limit=limit)
    except Exception as exc:  # a step never crashes the agent
        code, text = _failure(exc)
        return _report(op, "failed", code, text, {}, limit=limit)
    message = data.pop("message", "")
    return _report(op, "done", None, message, data, limit=limit)


class TooManySteps(ValueError):
    """The request holds more steps than one request may carry (``max_steps``): refused before any step runs."""


def deadline_words(seconds: int) -> str:
    """Why a step was skipped at the deadline (the Windows agent's engine says the same: CallDeadline.Words)."""
    return (
        f"the call's deadline of {seconds} s on the host (deadline_seconds) passed before this step started; "
        "the steps before it stand, and the next run reads the host afresh"
    )


def service_action(step: Mapping[str, Any]) -> str | None:
    """``stop`` or ``start`` for a ``service`` step, else None: the ends of a store's stop-to-start unit."""
    args = step.get("args")
    if step.get("op") != "service" or not isinstance(args, Mapping):
        return None
    action = args.get("action")
    return action if action in ("stop", "start") else None


def steps_within(request: Mapping[str, Any], max_steps: int) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = request["steps"]
    if len(steps) > max_steps:
        raise TooManySteps(
            f"the apply request holds {len(steps)} steps, more than the {max_steps} one request may carry (max_steps): "
            "no step was run; split the change into smaller requests"
        )
    return steps


def run(request: Mapping[str, Any], run_command: notify.CommandRunner | None = None, deadline_seconds: int | None = None) -> dict[str, Any]:
    """Run the request's steps; the reply's ``steps`` and ``warnings``, and (when asked) ``read_back``: the stores as
    the steps left them, read after the last step (:mod:`read_back`). ``deadline_seconds``: the call's host-side
    deadline, from now, asked before each step (None: no deadline)."""
    ends = None if deadline_seconds is None else time.monotonic() + deadline_seconds
    ctx = Context(request["wire"], request.get("cache_dir"))
    limit = int(ctx.wire["limits"]["max_message"])
    reports: list[dict[str, Any]] = []
    blocked: str | None = None
    opened = blocked_in_group = False
    units: set[str] = set()  # stores whose stop step ran and whose start step has not come yet
    for index, step in enumerate(steps_within(request, int(ctx.wire["limits"]["max_steps"]))):
        late = ends is not None and time.monotonic() >= ends  # asked before every step; a stop's unit runs whatever it says
        op = str(step.get("op"))
        store, action = str(step.get("store")), service_action(step)
        in_unit = store in units
        if action == "start":  # the start ends its store's unit, whatever becomes of it
            units.discard(store)
        if op == "lock":  # a group starts at its lock: what failed in an earlier group does not block it
            blocked = None if blocked_in_group else blocked
            opened = True
        if blocked is not None and not step.get("always"):
            reports.append(_report(op[:64], "skipped", None, f"skipped: {blocked}", {}, limit=limit))
            continue
        if late and not step.get("always") and not in_unit:
            reports.append(_report(op[:64], "skipped", None, f"skipped: {deadline_words(deadline_seconds or 0)}", {}, limit=limit))
            continue
        report = run_step(ctx, step, run_command, limit)
        reports.append(report)
        if action == "stop":  # whatever it ended: the scanner may be stopping until the start runs
            units.add(store)
        if step.get("required") and report["result"] != "done" and blocked is None:
            blocked = f"the required step {index} ({op} in {step.get('store')}) ended {report['result']}"
            blocked += f": {report['message']}" if report["message"] else ""
            blocked_in_group = opened  # before the first lock, a failure blocks the whole request
    for store, held in list(ctx.locks.items()):  # a request that forgot to unlock must not leave the store locked
        try:
            held.release()
        except OSError as exc:
            ctx.warnings.append(f"the lock of {store} could not be released: {exc}")
        else:
            ctx.warnings.append(f"the request did not unlock {store}; the lock was released")
    reply: dict[str, Any] = {"steps": reports, "warnings": [_cut(w, limit) for w in ctx.warnings[:64]]}
    if request.get("read_back"):
        reply["read_back"] = read_back.read(list(request["read_back"]), ctx.wire, ctx.cache_dir, ctx.landed)
    return reply
