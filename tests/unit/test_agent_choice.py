"""Which agent serves a host: the connection, and on a POSIX connection the lab switch ``smsmse_defs_lab_agent``."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, contract, facts
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_engine
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def probe_reply(name: str, runtime: str) -> dict[str, Any]:
    return {
        "contract": 1,
        "op": "probe",
        "agent": {"name": name, "runtime": runtime},
        "host": {"os": "linux", "os_version": "6.1", "arch": "x86_64", "hostname": "lab01", "env": {}},
        "product": None,
        "stores": [],
        "events": [],
        "events_error": None,
    }


class Recorder:
    """An ``_execute_module`` that records the module and arguments it was given, and answers ``reply``."""

    def __init__(self, reply: dict[str, Any]) -> None:
        self.reply = reply
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, *, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((module_name, module_args))
        return {"reply": self.reply}


REQUEST = facts.probe_request(is_windows=False, stores={"csapi": "/srv/csapi"}, product_option=None, events_file=None, event_hours=72)


@pytest.mark.parametrize(
    ("is_windows", "variables", "module"),
    [
        (False, {}, agent.POSIX_AGENT),
        (True, {}, agent.WINDOWS_AGENT),
        (False, {"smsmse_defs_lab_agent": "posix"}, agent.POSIX_AGENT),
        (False, {"smsmse_defs_lab_agent": "windows"}, agent.WINDOWS_LAB_AGENT),
    ],
)
def test_the_connection_and_the_lab_switch_choose_the_agent(is_windows: bool, variables: dict[str, Any], module: str) -> None:
    assert agent.agent_for(is_windows, variables) == module


@pytest.mark.parametrize("value", ["windows", "posix"])
def test_the_switch_is_refused_for_a_host_on_a_windows_connection(value: str) -> None:
    with pytest.raises(SmsmseError, match="LAB_AGENT_INVALID: smsmse_defs_lab_agent is set for mail01, which is reached over a Windows"):
        agent.agent_for(True, {"smsmse_defs_lab_agent": value, "inventory_hostname": "mail01"})


@pytest.mark.parametrize("value", ["Windows", "mono", "", True, ["windows"]])
def test_an_unknown_value_names_the_choices(value: Any) -> None:
    with pytest.raises(SmsmseError, match=r"LAB_AGENT_INVALID: smsmse_defs_lab_agent is .* for lab01: give one of posix, windows\."):
        agent.agent_for(False, {"smsmse_defs_lab_agent": value, "inventory_hostname": "lab01"})


def test_a_posix_host_is_sent_the_request_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_engine() -> dict[str, str]:
        raise AssertionError("a POSIX host pays for the engine's sources")

    monkeypatch.setattr(lab_engine, "bundle", no_engine)
    run = Recorder(probe_reply("defs_agent_posix", "Python 3.13.1"))
    reply = agent.call(run, is_windows=False, op="probe", request=REQUEST, task_vars={})
    assert run.calls == [(agent.POSIX_AGENT, {"op": "probe", "request": REQUEST})]
    assert reply["agent"] == {"name": "defs_agent_posix", "runtime": "Python 3.13.1"}


def test_a_windows_lab_host_is_sent_the_engine_and_the_same_request() -> None:
    run = Recorder(probe_reply("defs_agent_win", "Mono 6.8.0.105"))
    agent.call(run, is_windows=False, op="probe", request=REQUEST, task_vars={"smsmse_defs_lab_agent": "windows"})
    [(module, args)] = run.calls
    assert module == agent.WINDOWS_LAB_AGENT
    assert args["request"] == REQUEST and args["op"] == "probe" and set(args["engine"]) == {"sources"}


@pytest.mark.parametrize(("variables", "answered_as"), [({}, "defs_agent_win"), ({"smsmse_defs_lab_agent": "windows"}, "defs_agent_posix")])
def test_a_probe_answered_by_another_agent_than_the_one_run_is_refused(variables: dict[str, Any], answered_as: str) -> None:
    run = Recorder(probe_reply(answered_as, "something"))
    with pytest.raises(SmsmseError, match=f"AGENT_REPLY_INVALID: .* answered the probe as '{answered_as}'"):
        agent.call(run, is_windows=False, op="probe", request=REQUEST, task_vars=variables)


def test_a_probe_reply_without_its_agent_is_refused() -> None:
    reply = probe_reply("defs_agent_posix", "Python 3.13.1")
    del reply["agent"]
    with pytest.raises(SmsmseError, match="AGENT_REPLY_INVALID"):
        agent.call(Recorder(reply), is_windows=False, op="probe", request=REQUEST, task_vars={})


def test_a_windows_host_is_sent_the_request_as_json_and_never_the_engine() -> None:
    run = Recorder(probe_reply("defs_agent_win", "PowerShell 5.1.17763.1, .NET 4.0.30319.42000"))
    agent.call(run, is_windows=True, op="probe", request=REQUEST, task_vars={})
    [(module, args)] = run.calls
    assert module == agent.WINDOWS_AGENT and set(args) == {"op", "request_json"}


@pytest.mark.parametrize(
    ("op", "module"),
    [("probe", agent.WINDOWS_AGENT), ("apply", agent.WINDOWS_CHANGE_AGENT), ("run_liveupdate", agent.WINDOWS_CHANGE_AGENT)],
)
def test_a_windows_host_runs_a_probe_without_the_change_code(op: str, module: str) -> None:
    # issue 19: a probe neither sends nor compiles SmsmseEngineApply.cs; apply and run_liveupdate run the change module
    assert agent.agent_for(True, {}, op) == module
    assert agent.agent_for(False, {}, op) == agent.POSIX_AGENT
    assert agent.agent_for(False, {"smsmse_defs_lab_agent": "windows"}, op) == agent.WINDOWS_LAB_AGENT


def _fetch(store: str, deadline: int) -> dict[str, Any]:
    manifest = {"zdone.dat": {"size": 6, "sha256": "a" * 64}}
    args: dict[str, Any] = {"source": "https://dp.example.com/20261125.003", "name": ".smsmse-staging-20261125.003-c1"}
    args["manifest"] = manifest
    args |= {"timeout_seconds": 60, "deadline_seconds": deadline, "validate_certs": True, "ca_path": None}
    return {"op": "fetch", "store": store, "required": True, "always": False, "commit": False, "args": args}


def _service(action: str, timeout: int) -> dict[str, Any]:
    args = {"action": action, "service": "SMSMSE", "command": None, "timeout": timeout}
    return {"op": "service", "store": "/srv/csapi", "required": False, "always": action == "start", "commit": False, "args": args}


def _apply(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"wire": contract.wire(), "cache_dir": None, "steps": list(steps)}


APPLY_REPLY = {"contract": 1, "op": "apply", "steps": [], "warnings": []}
LIVEUPDATE_REPLY: dict[str, Any] = {"contract": 1, "op": "run_liveupdate", "result": "exited", "exit_code": 0, "duration": 1.0}
LIVEUPDATE_REPLY |= {"program": "lu", "output": ""}


@pytest.mark.parametrize("is_windows", [False, True])
@pytest.mark.parametrize(
    ("op", "request_", "reply", "deadline"),
    [
        # a fetch allowed two hours, then another allowed one: the time both are allowed, and the margin
        ("apply", _apply(_fetch("/srv/hawking", 7200), _fetch("/srv/csapi", 3600)), APPLY_REPLY, 7200 + 3600 + 600),
        ("apply", _apply(_service("stop", 120), _service("start", 120)), APPLY_REPLY, 3600),  # never less than the default
        ("run_liveupdate", {"luall_candidates": [], "arguments": [], "command": ["lu"], "timeout": 5400}, LIVEUPDATE_REPLY, 5400 + 600),
    ],
)
def test_a_change_carries_the_deadline_its_steps_are_allowed(
    is_windows: bool, op: str, request_: dict[str, Any], reply: dict[str, Any], deadline: int
) -> None:
    """High: the controller sends deadline_seconds, so that a fetch or LiveUpdate allowed more than an hour does not
    meet the agents' default of 3600 s on the host."""
    run = Recorder(reply)
    agent.call(run, is_windows=is_windows, op=op, request=request_, task_vars={})
    [(_module, args)] = run.calls
    assert args["deadline_seconds"] == deadline
    assert agent.deadline_seconds(op, request_) == deadline
