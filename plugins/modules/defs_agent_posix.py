#!/usr/bin/python
# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: defs_agent_posix
short_description: Internal agent of the mailsec.smsmse modules on POSIX hosts
version_added: 0.1.0
description:
  - The target half of the C(mailsec.smsmse.defs_*) modules on POSIX hosts, such as a Linux
    definitions mirror or a lab host. The action plugins call it; do not use it in playbooks.
  - It carries out one operation of the agent contract (the JSON Schemas under C(schemas/agent/))
    per call and reports what it finds. Every decision is made on the controller.
  - C(apply) runs an ordered list of primitive steps the controller computed (lock, expect, preflight, clean, stage,
    matches, rename, exchange, write_pointer, retire, quarantine, event, service, unlock) and reports each step's
    outcome; a required step that does not end C(done) skips every later step not marked C(always). The controller
    decides what the reply means. See C(docs/changes.md) in the collection.
  - C(run_liveupdate) runs the configured update command, bounded by C(timeout) where the host has it.
  - With C(hashing) in the request, C(probe) also returns the SHA-256 of every file of every set, streamed, and
    kept in a cache under C(~/.cache/mailsec-smsmse/hashes) (or the request's C(cache_dir)), keyed by path,
    size, modification time, change time (C(ctime), which a writer cannot set back) and file ID (device and inode),
    and read again once the entry is older than the request's C(max_age_seconds) (spread by path over its second half).
  - Every file the agent opens (the events file, the store lock and its breaker, C(definfo.dat), cache files, set files)
    is opened without blocking and must be a regular file once open. A FIFO, device or socket in its place is refused
    at once with an error naming it, never waited on.
  - Each call has a deadline on the host (C(deadline_seconds)), so that one host never stalls the run. A C(probe) still
    running then ends the call failed, naming it; a probe that finished as the deadline passed is returned. A change is
    never cut short part way, it is asked the deadline before each step. Once the deadline has passed, C(apply) skips
    every later step not marked C(always), naming the deadline, except a store's steps from its C(service) stop to its
    start (one unit, which ends when the start has run, whatever it ended), then releases its locks, starts what it
    stopped and reads the stores back. C(run_liveupdate) is one step, bounded by its own C(timeout).
  - A C(service) stop that fails or times out may still be stopping the scanner, so the start marked
    C(only_if_stopped_here) after it runs.
  - An C(apply) request of more steps than the contract's C(max_steps) is refused whole before any step runs.
  - The cache folder and its files are used only when they are owned by the agent's user, not writable by group or
    others, and not links; they are made C(0700) and C(0600). Otherwise every file is read and the store's
    C(hash_stats.cache_refused) says why. A file that changes while it is read has no digest (C(changed)) and no cache entry.
options:
  deadline_seconds:
    description:
      - The host-side deadline of one call, in seconds. A probe still running then ends failed; a change starts no
        step after it (see the description). The action plugins send a change the time its steps are allowed (fetch
        deadlines, service and LiveUpdate timeouts) plus 600 seconds, and never less than the default.
    type: int
    default: 3600
    version_added: 0.2.0
extends_documentation_fragment:
  - mailsec.smsmse.agent
requirements:
  - "Python 3.9 or later on the host"
attributes:
  platform:
    support: full
    platforms: posix
    description: POSIX hosts; Windows hosts run M(mailsec.smsmse.defs_agent_win).
  check_mode:
    support: full
    description: C(probe) only reads; the changing operations refuse to run in check mode (the action plugins plan instead).
author:
  - mailsec.smsmse developers (@mailsec)
seealso:
  - module: mailsec.smsmse.defs_facts
"""

EXAMPLES = r"""
# Internal: the action plugins call this module. For the facts, use:
- name: Inventory the definition stores
  mailsec.smsmse.defs_facts:
"""

RETURN = r"""
reply:
  description: The operation's reply, as its JSON Schema describes it.
  returned: success
  type: dict
"""

import os
import platform
import shutil
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.mailsec.smsmse.plugins.module_utils.events import read_events
from ansible_collections.mailsec.smsmse.plugins.module_utils.scan import scan_store, template_vars

CONTRACT = 1
#: how long one call may run on the host when the module is not told (deadline_seconds)
DEFAULT_DEADLINE_SECONDS = 3600
T = TypeVar("T")


class DeadlineExceeded(Exception):
    """A probe ran past its host-side deadline."""


class RequestRefused(Exception):
    """The request was refused whole, before any step ran."""


def with_deadline(seconds: int, work: Callable[[], T]) -> T:
    """``work()`` on a worker thread, waited for ``seconds`` at most; :class:`DeadlineExceeded` when it is still running.

    The worker and the caller agree under a lock on how it ended, so that a result finished as the deadline passes is
    the result returned, never a deadline error on top of it. For what only reads (a probe): a change is never left
    running part way, it asks its deadline between steps (:func:`apply.run`).
    """
    gate = threading.Lock()
    ended: list[tuple[bool, Any]] = []  # [(True, result)] or [(False, exception)]
    abandoned = False

    def run() -> None:
        try:
            outcome: tuple[bool, Any] = (True, work())
        except BaseException as exc:  # handed to the caller, who raises it
            outcome = (False, exc)
        with gate:
            if not abandoned:
                ended.append(outcome)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(max(seconds, 1))
    with gate:
        if not ended:
            abandoned = True
            raise DeadlineExceeded(seconds)
    finished, value = ended[0]
    if not finished:
        raise value
    result: T = value
    return result


def _os_name() -> str:
    system = platform.system().lower()
    return system if system in ("linux", "darwin") else "other"


def probe(request: dict[str, Any]) -> dict[str, Any]:
    limits = request["limits"]
    wanted_vars = sorted({name for store in request["stores"] for name in template_vars(store["template"])})
    product = request.get("product")
    reply: dict[str, Any] = {
        "contract": CONTRACT,
        "op": "probe",
        "agent": {"name": "defs_agent_posix", "runtime": f"Python {platform.python_version()}"},
        "host": {
            "os": _os_name(),
            "os_version": platform.release(),
            "arch": platform.machine(),
            "hostname": socket.gethostname(),
            "env": dict((name, os.environ.get(name)) for name in wanted_vars),
        },
        "product": dict(product, source="option") if product else None,
        "stores": [scan_store(store["name"], store["template"], limits, request.get("hashing")) for store in request["stores"]],
        "events": [],
        "events_error": None,
    }
    events_file = request.get("events_file")
    if events_file:
        try:
            reply["events"], skipped = read_events(events_file, request["event_ids"], request["event_hours"], limits["max_events"])
            if skipped:
                reply["events_error"] = f"{skipped} line(s) of {events_file} are not events and were skipped"
        except OSError as exc:
            reply["events_error"] = f"cannot read {events_file}: {exc.strerror or exc}"
    return reply


def run_liveupdate(request: dict[str, Any], run_command: Any) -> dict[str, Any]:
    """Run the configured update command, bounded by coreutils' timeout where the host has it."""
    command = request.get("command")
    outcome: dict[str, Any] = {"result": "not_found", "exit_code": None, "duration": 0.0, "program": None, "output": ""}
    if not command:
        outcome["output"] = "no LiveUpdate command is configured for this POSIX host (liveupdate_command)"
        return outcome
    outcome["program"] = command[0]
    argv = list(command)
    limiter = shutil.which("timeout")
    if limiter:
        argv = [limiter, "--kill-after=10", str(request["timeout"]), *argv]
    started = time.monotonic()
    try:
        code, out, err = run_command(argv)
    except OSError as exc:
        outcome.update(result="failed", output=str(exc))
        return outcome
    outcome["duration"] = round(time.monotonic() - started, 3)
    outcome["exit_code"] = code
    outcome["output"] = (out + err)[-4000:]
    # the exit code only: the controller judges it (plugin_utils/_change/liveupdate.py)
    outcome["result"] = "timeout" if limiter and code in (124, 137) else "exited"
    return outcome


def run_apply(request: dict[str, Any], run_command: Any, deadline_seconds: int) -> dict[str, Any]:
    """The apply steps, the deadline asked before each; imported here, so that a probe (every host, every run) does
    not load the change code."""
    from ansible_collections.mailsec.smsmse.plugins.module_utils import apply

    try:
        return apply.run(request, run_command, deadline_seconds)
    except apply.TooManySteps as exc:
        raise RequestRefused(str(exc)) from None


def run_liveupdate_call(request: dict[str, Any], run_command: Any, deadline_seconds: int) -> dict[str, Any]:
    """run_liveupdate: one step, bounded by the request's own ``timeout`` (the deadline stops a change between steps)."""
    return run_liveupdate(request, run_command)


CHANGES = {"apply": run_apply, "run_liveupdate": run_liveupdate_call}
OPERATIONS = ("probe", *CHANGES)


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            op=dict(type="str", required=True, choices=sorted(OPERATIONS)),
            request=dict(type="dict", required=True),
            deadline_seconds=dict(type="int", default=DEFAULT_DEADLINE_SECONDS),
        ),
        supports_check_mode=True,
    )
    op = module.params["op"]
    if module.check_mode and op in CHANGES:
        module.fail_json(msg=f"{op} changes the host and does not run in check mode; the controller plans it instead")
    request, deadline = module.params["request"], module.params["deadline_seconds"]

    try:
        if op == "probe":
            reply = with_deadline(deadline, lambda: probe(request))
        else:
            reply = {"contract": CONTRACT, "op": op, **CHANGES[op](request, module.run_command, max(deadline, 1))}
    except DeadlineExceeded:
        module.fail_json(msg=f"the agent's {op} did not finish within its deadline of {deadline} s on the host")
    except RequestRefused as exc:
        module.fail_json(msg=f"the {op} request was refused: {exc}")
    except (KeyError, TypeError) as exc:
        module.fail_json(msg=f"the {module.params['op']} request is incomplete: {exc!r}")
    module.exit_json(changed=False, reply=reply)


if __name__ == "__main__":
    main()
