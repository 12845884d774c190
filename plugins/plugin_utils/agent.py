"""Calling the agent on a host: one execution per operation, reply checked against the contract."""

from __future__ import annotations

import json
from typing import Any, Protocol

from ansible.utils.display import Display

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract, safe_text
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

WINDOWS_AGENT = "mailsec.smsmse.defs_agent_win"
POSIX_AGENT = "mailsec.smsmse.defs_agent_posix"
_MESSAGE_WIDTH = 1000


class ModuleRunner(Protocol):
    """What an action plugin offers to run a module (``ActionBase._execute_module``)."""

    def __call__(self, *, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]: ...


def agent_for(is_windows: bool) -> str:
    return WINDOWS_AGENT if is_windows else POSIX_AGENT


def call(run_module: ModuleRunner, *, is_windows: bool, op: str, request: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
    """Run ``op`` on the host through the agent and return its checked reply."""
    contract.check_request(op, request)
    # Windows: one JSON string, parsed by the engine itself. The exec wrapper reads module arguments with
    # Windows PowerShell 5.1's ConvertFrom-Json, which dies on keys that differ only in case (a manifest
    # naming VIRSCAN1.DAT and virscan1.dat) before the agent runs.
    args = {"op": op, "request_json": json.dumps(request, ensure_ascii=True)} if is_windows else {"op": op, "request": request}
    result = run_module(module_name=agent_for(is_windows), module_args=args, task_vars=task_vars)
    if result.get("failed") or result.get("unreachable"):
        message = str(result.get("msg") or "no message")[:_MESSAGE_WIDTH]
        raise SmsmseError("AGENT_FAILED", f"The agent failed on '{op}': {message}")
    reply = contract.check_reply(op, result.get("reply"))
    if op == "probe":
        for warning in reply.get("warnings") or ():  # what the agent put right before it probed: always shown
            Display().warning(f"{task_vars.get('inventory_hostname', 'host')}: {safe_text.line(warning)}")
    return reply
