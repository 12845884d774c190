"""Options through the action plugins: host-variable fallbacks, and bad values refused before any host I/O."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import ansible.template
import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import argspec

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "agent"
_trust = getattr(ansible.template, "trust_as_template", lambda value: value)  # ansible-core 2.19+: inventory text is trusted


class Plugin:
    """An action plugin with a recording agent: every module execution is kept in ``calls``."""

    def __init__(self, module: str, args: dict[str, Any], task_vars: dict[str, Any] | None = None, *, check_mode: bool = False) -> None:
        self.task_vars = task_vars or {}
        self.calls: list[dict[str, Any]] = []
        task = MagicMock()
        task.args = args
        task.async_val = 0
        task.check_mode = check_mode
        task.diff = False
        task.action = f"mailsec.smsmse.{module}"
        connection = MagicMock()
        connection._shell._IS_WINDOWS = False
        play_context = MagicMock()
        play_context.check_mode = check_mode
        templar = Templar(loader=DataLoader(), variables=self.task_vars)
        action_module = importlib.import_module(f"ansible_collections.mailsec.smsmse.plugins.action.{module}")
        self.action = action_module.ActionModule(task, connection, play_context, MagicMock(), templar, MagicMock())
        self.action._execute_module = self._record
        self.action._load_name = task.action  # the plugin loader sets it (ansible-core 2.18 reads it in its messages)

    def _record(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        self.calls.append({"module_name": module_name, **json.loads(json.dumps(module_args))})
        return {"failed": True, "msg": "recorded, not run"}

    def run(self) -> dict[str, Any]:
        result: dict[str, Any] = self.action.run(task_vars=self.task_vars)
        return result


STORES = {"csapi": "/lab/h1/csapi", "hawking": "/lab/h1/hawking"}


@pytest.mark.parametrize(
    ("module", "args", "check_mode", "option"),
    [
        ("defs_facts", {"stores": STORES, "event_hours": -5}, False, "event_hours"),
        ("defs_verify", {"stores": STORES, "event_hours": 87601}, False, "event_hours"),
        ("defs_promote", {"stores": STORES, "lock_stale_seconds": 0}, False, "lock_stale_seconds"),
        ("defs_promote", {"stores": STORES, "lock_stale_seconds": -1}, True, "lock_stale_seconds"),
        ("defs_rollback", {"stores": STORES, "lock_stale_seconds": 86401}, False, "lock_stale_seconds"),
        ("defs_promote", {"stores": STORES, "keep": 0}, False, "keep"),
        ("defs_liveupdate", {"command": ["true"], "timeout": 86401}, False, "timeout"),
        ("defs_liveupdate", {"command": ["true"], "timeout": 0}, True, "timeout"),
        ("defs_liveupdate", {"command": "luall 'unclosed", "timeout": 60}, False, "command"),
        ("defs_liveupdate", {"command": [], "timeout": 60}, False, "command"),
    ],
)
def test_a_bad_option_fails_before_any_agent_call(module: str, args: dict[str, Any], check_mode: bool, option: str) -> None:
    plugin = Plugin(module, args, check_mode=check_mode)
    result = plugin.run()
    assert plugin.calls == []
    assert result["failed"] is True
    assert not result.get("changed")
    assert result["error"]["code"] == "OPTION_INVALID"
    assert f"`{option}`" in result["msg"]
    if option in argspec.BOUNDS:
        low, high = argspec.BOUNDS[option]
        assert f"from {low} to {high}" in result["msg"]


def test_host_variables_stand_in_for_options_not_given() -> None:
    task_vars = {
        "lab": "/srv/lab",
        "smsmse_defs_stores": {"csapi": _trust("{{ lab }}/csapi"), "hawking": "/srv/lab/hawking"},
        "smsmse_defs_product": {"name": "Symantec Mail Security for Microsoft Exchange", "version": "6.0.14"},
        "smsmse_defs_events_file": _trust("{{ lab }}/events.jsonl"),
    }
    plugin = Plugin("defs_facts", {}, task_vars)
    result = plugin.run()
    assert result["error"]["code"] == "AGENT_FAILED"  # the recording agent fails every call
    (call,) = plugin.calls
    request = call["request"]
    paths = {store["name"]: store["template"] for store in request["stores"]}
    assert paths["csapi"] == "/srv/lab/csapi"
    assert paths["hawking"] == "/srv/lab/hawking"
    assert request["events_file"] == "/srv/lab/events.jsonl"
    assert request["product"]["version"] == "6.0.14"


def test_an_option_given_wins_over_the_host_variable() -> None:
    task_vars = {"smsmse_defs_stores": {"csapi": "/from/inventory"}, "smsmse_defs_events_file": "/from/inventory.jsonl"}
    plugin = Plugin("defs_facts", {"stores": {"csapi": "/from/task"}}, task_vars)
    plugin.run()
    request = plugin.calls[0]["request"]
    assert {store["name"]: store["template"] for store in request["stores"]}["csapi"] == "/from/task"
    assert request["events_file"] == "/from/inventory.jsonl"


def test_without_stores_or_host_variable_the_fix_is_named() -> None:
    plugin = Plugin("defs_facts", {})
    result = plugin.run()
    assert plugin.calls == []
    assert result["error"]["code"] == "STORES_REQUIRED"


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("/opt/lu/update --silent 'two words'", ["/opt/lu/update", "--silent", "two words"]),
        (["/opt/lu/update", "--silent", "two words"], ["/opt/lu/update", "--silent", "two words"]),
        ('/opt/lu/update "$HOME" *.dat', ["/opt/lu/update", "$HOME", "*.dat"]),
    ],
)
def test_liveupdate_command_as_a_list_or_a_command_line(command: Any, argv: list[str]) -> None:
    plugin = Plugin("defs_liveupdate", {"command": command})
    plugin.run()
    assert plugin.calls[0]["request"]["command"] == argv


def test_liveupdate_command_from_the_host_variable() -> None:
    plugin = Plugin("defs_liveupdate", {}, {"smsmse_defs_liveupdate_command": "/opt/lu/update -s"})
    plugin.run()
    assert plugin.calls[0]["request"]["command"] == ["/opt/lu/update", "-s"]


def _documented(module: str) -> dict[str, Any]:
    doc = importlib.import_module(f"ansible_collections.mailsec.smsmse.plugins.modules.{module}").DOCUMENTATION
    return argspec.documented_options(doc)


MODULES = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_every_bounded_option_documents_its_range(module: str) -> None:
    for name, option in _documented(module).items():
        if name in argspec.BOUNDS and option.get("type") == "int":
            description = option["description"]
            text = " ".join(description) if isinstance(description, list) else description
            assert argspec.range_text(name) in text, f"{module}: {name}"


@pytest.mark.parametrize(
    ("option", "schema", "where"),
    [
        ("event_hours", "probe.request.json", ("properties", "event_hours")),
        ("timeout", "run_liveupdate.request.json", ("properties", "timeout")),
        ("lock_stale_seconds", "apply.request.json", ("$defs", "args_lock", "properties", "stale_seconds")),
    ],
)
def test_no_range_is_wider_than_the_contract(option: str, schema: str, where: tuple[str, ...]) -> None:
    limits = json.loads((SCHEMAS / schema).read_text())
    for key in where:
        limits = limits[key]
    low, high = argspec.BOUNDS[option]
    assert limits["minimum"] <= low <= high <= limits["maximum"]
