"""Calling the agent on a host: one execution per operation, reply checked against the contract.

Which module serves a host: the Windows agent over a Windows connection (its read
module for a probe, its change module for ``apply`` and ``run_liveupdate``, so that a probe
neither sends nor compiles the change code), the POSIX agent otherwise; a lab host (POSIX connection) whose inventory sets
``smsmse_defs_lab_agent: windows`` is served by the Windows agent's engine under Mono
(:data:`WINDOWS_LAB_AGENT`, sent the engine's C# sources by :mod:`_lab.lab_engine`). The
request is the same either way: shaped by the host's connection, not by the agent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from ansible.utils.display import Display

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import safe_text
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed, SmsmseError

WINDOWS_AGENT = "mailsec.smsmse.defs_agent_win"
#: the Windows agent's change module: the same shim and engine with the change code (SmsmseEngineApply.cs)
WINDOWS_CHANGE_AGENT = "mailsec.smsmse.defs_agent_win_change"
#: operation -> the Windows module that serves it (scripts/win_payload.py measures each)
WINDOWS_MODULE_FOR = {"probe": WINDOWS_AGENT, "apply": WINDOWS_CHANGE_AGENT, "run_liveupdate": WINDOWS_CHANGE_AGENT}
POSIX_AGENT = "mailsec.smsmse.defs_agent_posix"
#: the Windows agent's engine under Mono, on a lab host with a POSIX connection
WINDOWS_LAB_AGENT = "mailsec.smsmse.defs_agent_win_lab"
#: the inventory variable that picks a lab host's agent, and its values
LAB_AGENT_VARIABLE = "smsmse_defs_lab_agent"
LAB_AGENTS = ("posix", "windows")
#: the agent name a probe reply must carry (``agent.name``), by the module that ran it
AGENT_NAMES = {WINDOWS_AGENT: "defs_agent_win", WINDOWS_LAB_AGENT: "defs_agent_win", POSIX_AGENT: "defs_agent_posix"}
_MESSAGE_WIDTH = 1000
#: the agents' own host-side deadline (``deadline_seconds``): the least a change is sent
DEFAULT_DEADLINE_SECONDS = 3600
#: added to the time a change's own steps are allowed: for the steps without a bound of their own (copies, renames)
DEADLINE_MARGIN_SECONDS = 600
#: apply step op -> the argument that bounds how long it may take
STEP_BOUNDS = {"fetch": "deadline_seconds", "service": "timeout"}


class ModuleRunner(Protocol):
    """What an action plugin offers to run a module (``ActionBase._execute_module``)."""

    def __call__(self, *, module_name: str, module_args: dict[str, object], task_vars: dict[str, object]) -> Mapping[str, object]: ...


def agent_for(is_windows: bool, task_vars: Mapping[str, object] | None = None, op: str = "probe") -> str:
    """The module that serves ``op`` on the host: its connection decides, and on a POSIX connection ``smsmse_defs_lab_agent``."""
    chosen = (task_vars or {}).get(LAB_AGENT_VARIABLE)
    if chosen is None:
        return WINDOWS_MODULE_FOR[op] if is_windows else POSIX_AGENT
    host = (task_vars or {}).get("inventory_hostname", "this host")
    if not isinstance(chosen, str) or chosen not in LAB_AGENTS:
        raise SmsmseError("LAB_AGENT_INVALID", f"{LAB_AGENT_VARIABLE} is {chosen!r} for {host}: give one of {', '.join(LAB_AGENTS)}.")
    if is_windows:
        raise SmsmseError(
            "LAB_AGENT_INVALID",
            f"{LAB_AGENT_VARIABLE} is set for {host}, which is reached over a Windows connection: the variable is for lab "
            "hosts on a POSIX connection only.",
        )
    return WINDOWS_LAB_AGENT if chosen == "windows" else POSIX_AGENT


def deadline_seconds(op: str, request: Mapping[str, object]) -> int:
    """The host-side deadline a change is sent: the time its own steps are allowed (each fetch's ``deadline_seconds``,
    each service step's and LiveUpdate's ``timeout``, as the user set them) plus a margin, never less than the agents'
    default. The agents ask it before each step of a change and never cut one short (docs/changes.md)."""
    if op == "run_liveupdate":
        allowed = _whole(request["timeout"])
    else:
        steps = cast(Sequence[Mapping[str, Any]], request.get("steps", ()))  # contract.check_request passed it: apply.request.json
        allowed = sum(_whole(step["args"][STEP_BOUNDS[step["op"]]]) for step in steps if step["op"] in STEP_BOUNDS)
    return max(DEFAULT_DEADLINE_SECONDS, allowed + DEADLINE_MARGIN_SECONDS)


def _whole(value: object) -> int:
    """A number of seconds from a request, as ``int()`` takes it."""
    if isinstance(value, (int, float, str)):
        return int(value)
    raise TypeError(f"a number of seconds, not {type(value).__name__}")


def call(
    run_module: ModuleRunner, *, is_windows: bool, op: str, request: Mapping[str, object], task_vars: dict[str, object]
) -> dict[str, Any]:
    """Run ``op`` on the host through the agent and return its checked reply."""
    contract.check_request(op, request)
    module = agent_for(is_windows, task_vars, op)
    module_args: dict[str, object] = {"op": op, "request": request}
    if module in (WINDOWS_AGENT, WINDOWS_CHANGE_AGENT):
        # one JSON string, parsed by the engine itself. The exec wrapper reads module arguments with Windows
        # PowerShell 5.1's ConvertFrom-Json, which dies on keys that differ only in case (a manifest naming
        # VIRSCAN1.DAT and virscan1.dat) before the agent runs. The lab's Mono host reads its stdin with the engine's.
        module_args = {"op": op, "request_json": json.dumps(request, ensure_ascii=True)}
    elif module == WINDOWS_LAB_AGENT:  # the lab dispatch point: the lab's engine is imported only for a lab host
        from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_engine

        module_args["engine"] = lab_engine.bundle()
    if op != "probe":  # a probe has no step bound: the agents' default
        module_args["deadline_seconds"] = deadline_seconds(op, request)
    result = run_module(module_name=module, module_args=module_args, task_vars=task_vars)
    if result.get("failed") or result.get("unreachable"):
        message = str(result.get("msg") or "no message")[:_MESSAGE_WIDTH]
        raise AgentFailed(f"The agent failed on '{op}': {message}")
    reply = contract.check_reply(op, result.get("reply"))
    if op == "probe":
        if reply["agent"]["name"] != AGENT_NAMES[module]:
            raise SmsmseError(
                "AGENT_REPLY_INVALID", f"{module} answered the probe as {reply['agent']['name']!r}, not {AGENT_NAMES[module]!r}."
            )
        for warning in reply.get("warnings") or ():  # what the agent put right before it probed: always shown
            Display().warning(f"{task_vars.get('inventory_hostname', 'host')}: {safe_text.line(warning)}")
    return reply
