"""run_liveupdate: the agent reports how LuALL ended; the controller alone judges it (review finding 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import liveupdate
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import agent, probe


def reply(result: str, exit_code: int | None, output: str = "") -> dict[str, Any]:
    return {
        "contract": 1,
        "op": "run_liveupdate",
        "result": result,
        "exit_code": exit_code,
        "duration": 1.5,
        "program": "LuALL.exe",
        "output": output,
    }


class Action:
    """The action plugin's module runner, answering with one agent reply (checked against the contract)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def _execute_module(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["module_name"] == agent.WINDOWS_CHANGE_AGENT == agent.agent_for(True, op="run_liveupdate")
        return {"reply": self.answer}


def run_with(monkeypatch: pytest.MonkeyPatch, answer: dict[str, Any]) -> dict[str, Any]:
    monkeypatch.setattr(probe, "is_windows", lambda action: True)
    return liveupdate.run(Action(answer), {}, command=None, timeout=60)


def test_exit_code_zero_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_with(monkeypatch, reply("exited", 0))
    assert not result.get("failed") and result["changed"] is True and result["exit_code"] == 0


@pytest.mark.parametrize("code", [1, 2, -1073741819])
def test_a_non_zero_exit_code_fails_on_the_controller(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    result = run_with(monkeypatch, reply("exited", code, "update failed"))
    assert result["failed"] is True and result["error"]["code"] == "LIVEUPDATE_FAILED"
    assert f"exited with code {code}" in result["msg"] and result["changed"] is False


def test_exited_without_a_code_is_not_success(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_with(monkeypatch, reply("exited", None))
    assert result["failed"] is True


@pytest.mark.parametrize("result", ["timeout", "not_found", "failed"])
def test_other_results_fail(monkeypatch: pytest.MonkeyPatch, result: str) -> None:
    assert run_with(monkeypatch, reply(result, None, "x"))["failed"] is True


def test_the_reply_schema_has_no_verdict_of_the_agent() -> None:
    loaded = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas" / "agent" / "run_liveupdate.reply.json").read_text(encoding="utf-8")
    )
    assert "done" not in loaded["properties"]["result"]["enum"] and "exited" in loaded["properties"]["result"]["enum"]
