"""The defs_facts action plugin: options from its docs, exactly one agent call, errors as results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleError

from ansible_collections.mailsec.smsmse.plugins.action import defs_facts as action
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.modules.defs_facts import DOCUMENTATION
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec


def make_action(args: dict[str, Any], *, windows: bool = False) -> action.ActionModule:
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = False
    task.action = "mailsec.smsmse.defs_facts"
    connection = MagicMock()
    connection._shell._IS_WINDOWS = windows
    play_context = MagicMock()
    play_context.check_mode = False
    plugin = action.ActionModule(task, connection, play_context, MagicMock(), MagicMock(), MagicMock())
    plugin._load_name = task.action  # the plugin loader sets it (ansible-core 2.18 reads it in its messages)
    return plugin


def lab_args(inventory: Path, host: str) -> dict[str, Any]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    return {
        "stores": hostvars["smsmse_defs_stores"],
        "product": hostvars["smsmse_defs_product"],
        "events_file": hostvars["smsmse_defs_events_file"],
    }


def run_against_agent(plugin: action.ActionModule) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        calls.append({"module_name": module_name, **module_args})
        return {"changed": False, "reply": json.loads(json.dumps(defs_agent_posix.probe(module_args["request"])))}

    plugin._execute_module = execute_module
    return plugin.run(task_vars={}), calls


def test_one_agent_call_gives_the_facts(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h1", faults=["stale_csapi"]))
    result, calls = run_against_agent(make_action(lab_args(inventory, "h1")))
    assert [c["module_name"] for c in calls] == ["mailsec.smsmse.defs_agent_posix"]
    assert calls[0]["op"] == "probe"
    assert not result.get("failed")
    smsmse = result["ansible_facts"]["smsmse_defs"]
    assert smsmse["stores"]["csapi"]["active"] == smsmse["stores"]["hawking"]["sets"][0]["version"]
    assert smsmse["newest"] == smsmse["stores"]["hawking"]["sets"][-1]["version"]


def test_malformed_definfo_is_reported_in_the_facts_as_defs_verify_reports_it(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h1", faults=["malformed_definfo"]))
    result, calls = run_against_agent(make_action(lab_args(inventory, "h1")))
    assert len(calls) == 1
    assert not result.get("failed"), result.get("msg")
    csapi = result["ansible_facts"]["smsmse_defs"]["stores"]["csapi"]
    assert csapi["active"] is None and csapi["definfo_error"]["code"] == "DEFINFO_MALFORMED"
    assert csapi["definfo_error"]["message"].startswith(f"{csapi['definfo_error']['path']} line 3: ")
    assert result["ansible_facts"]["smsmse_defs"]["stores"]["hawking"]["definfo_error"] is None
    assert result["warnings"] == [f"csapi: DEFINFO_MALFORMED: {csapi['definfo_error']['message']}"]


def test_posix_without_stores_makes_no_call() -> None:
    result, calls = run_against_agent(make_action({}))
    assert calls == []
    assert result["error"]["code"] == "STORES_REQUIRED"


def test_windows_uses_the_powershell_agent() -> None:
    plugin = make_action({}, windows=True)
    seen: list[str] = []

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        seen.append(module_name)
        return {"failed": True, "msg": "Access is denied"}

    plugin._execute_module = execute_module
    result = plugin.run(task_vars={})
    assert seen == ["mailsec.smsmse.defs_agent_win"]
    assert result["msg"].startswith("AGENT_FAILED: The agent failed on 'probe': Access is denied")


def test_reply_breaking_the_contract_is_refused() -> None:
    plugin = make_action({}, windows=True)
    plugin._execute_module = lambda **_: {"reply": {"contract": 1, "op": "probe"}}
    result = plugin.run(task_vars={})
    assert result["error"]["code"] == "AGENT_REPLY_INVALID"
    assert "'host' is a required property" in result["msg"]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"stores": {"csapi": "/x", "quarantine": "/y"}}, "quarantine"),
        ({"event_hours": "soon"}, "event_hours"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_options_are_named(args: dict[str, Any], problem: str) -> None:
    plugin = make_action(args)
    with pytest.raises(AnsibleError, match=problem):
        plugin.run(task_vars={})


def test_argument_spec_follows_the_documentation() -> None:
    options = argspec.documented_options(DOCUMENTATION)
    spec = argspec.from_documentation(DOCUMENTATION)
    assert sorted(spec) == sorted(options) == ["event_hours", "events_file", "product", "store_privacy", "stores"]
    assert spec["store_privacy"]["options"]["writers"] == {"type": "list", "elements": "str"}
    assert spec["event_hours"] == {"type": "int", "default": 72}
    assert spec["events_file"] == {"type": "path"}
    assert sorted(spec["stores"]["options"]) == ["csapi", "hawking", "smsmse_hawking"]
    assert frozenset(options) == action.ActionModule._VALID_ARGS
