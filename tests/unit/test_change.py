"""Carrying out a plan: each refusal of the agent becomes its registered error, and check mode makes no call."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import store_ops
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import catalog, change, plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import BY_CODE, SmsmseError

ROOT = Path(__file__).resolve().parents[2]


def the_plan() -> plan.Plan:
    request: dict[str, Any] = {
        "store": "/s",
        "version": "20261125.003",
        "manifest": {"zdone.dat": {"size": 6, "sha256": "a" * 64}},
        "expect": {"definfo_sha256": None, "active": "20261124.002"},
        "definfo_b64": "",
        "quarantine": [],
        "quarantine_dir": None,
        "lock_stale_seconds": 900,
        "cache_dir": None,
        "events": [],
        "events_file": None,
        "restart": None,
    }
    return plan.Plan("csapi", "20261125.003", "20261124.002", "csapi: a -> b", "set_pointer", request, {"before": "", "after": ""})


def action(check_mode: bool, reply: dict[str, Any]) -> tuple[Any, list[str]]:
    calls: list[str] = []
    fake = MagicMock()
    fake._task.check_mode = check_mode
    fake._task.diff = True
    fake._connection._shell._IS_WINDOWS = False

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        calls.append(module_args["op"])
        return {"reply": reply}

    fake._execute_module = execute_module
    return fake, calls


def change_reply(result: str, message: str = "why") -> dict[str, Any]:
    return {"contract": 1, "op": "set_pointer", **store_ops._outcome(), "result": result, "message": message}


@pytest.mark.parametrize(("result", "code"), sorted(change.REFUSALS.items()))
def test_refusals_become_their_codes(result: str, code: str) -> None:
    fake, calls = action(False, change_reply(result, "the store is locked by another run"))
    with pytest.raises(SmsmseError) as caught:
        change.carry_out(fake, {}, the_plan())
    assert calls == ["set_pointer"]
    assert caught.value.code == code
    assert str(caught.value).startswith(f"{code}: Nothing was changed on csapi: the store is locked by another run.")


def test_check_mode_makes_no_call_and_shows_the_diff() -> None:
    fake, calls = action(True, change_reply("done"))
    result = change.carry_out(fake, {}, the_plan())
    assert calls == []
    assert result["changed"] is True and "diff" in result


def test_done_reports_what_happened() -> None:
    reply = {**change_reply("done"), "lock_broken": "its process 7 is gone", "warnings": ["event not written"]}
    fake, calls = action(False, reply)
    result = change.carry_out(fake, {}, the_plan())
    assert calls == ["set_pointer"]
    assert result["warnings"] == ["a stale lock was broken: its process 7 is gone", "event not written"]


def test_missing_cryptography_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "CRYPTOGRAPHY_IMPORT_ERROR", ImportError("No module named 'cryptography'"))
    with pytest.raises(SmsmseError, match="DEPENDENCY_MISSING: Catalogs need the Python package 'cryptography'"):
        catalog.load_public_key("00" * 32)


def test_every_registered_code_is_used_by_the_code() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "plugins").rglob("*.py") if p.name != "errors.py")
    unused = [code for code in BY_CODE if f'"{code}"' not in sources]
    assert unused == []
