"""Carrying out a plan: one apply call, and the result says exactly what the reply says happened."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, read_back
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import error_codes
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import BY_CODE, SmsmseError

from .test_plan import host, promote, stores_of

ROOT = Path(__file__).resolve().parents[2]
STORE = "/s"
V = "20261125.003"


def the_plan() -> plan.Plan:
    group = steps.Group(STORE, 900, "a" * 64)
    body = [
        steps.step("matches", STORE, name=V, manifest={"zdone.dat": {"size": 6, "sha256": "b" * 64}}),
        steps.write_pointer(STORE, b"[DefDates]\r\nCurDefs=20261125.003\r\n", "a" * 64, commit=True),
        steps.step("quarantine", STORE, name="20261126.001", dest_dir="/q", dest_name="s-20261126.001-x"),
    ]
    diff = [{"before_header": "/s/definfo.dat", "after_header": "/s/definfo.dat", "before": "", "after": ""}]
    return plan.Plan("csapi", V, "20261124.002", "csapi: a -> b", [*group.opening(pointer_writable=True), *body, *group.closing()], diff)


def action(check_mode: bool, results: list[str] | None, failed: str | None = None) -> tuple[Any, list[str]]:
    calls: list[str] = []
    fake = MagicMock()
    fake._task.check_mode = check_mode
    fake._task.diff = True
    fake._connection._shell._IS_WINDOWS = False

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        calls.append(module_args["op"])
        if failed:
            return {"failed": True, "msg": failed}
        sent = module_args["request"]["steps"]
        assert results is not None and len(results) == len(sent)
        reports = [
            {"op": s["op"], "result": r, "code": None, "message": "" if r == "done" else "why", "data": {}} for s, r in zip(sent, results)
        ]
        return {"reply": {"contract": 1, "op": "apply", "steps": reports, "warnings": []}}

    fake._execute_module = execute_module
    return fake, calls


def results(**at: str) -> list[str]:
    ops = [s["op"] for s in the_plan().steps]
    return [at.get(op, "done") for op in ops]


def test_check_mode_makes_no_call_and_shows_the_diff() -> None:
    fake, calls = action(True, None)
    result = change.carry_out(fake, {}, the_plan(), None)
    assert calls == []
    assert result["changed"] is True and result["diff"][0]["before_header"] == "/s/definfo.dat"


def test_done_reports_what_happened() -> None:
    fake, calls = action(False, results())
    result = change.carry_out(fake, {}, the_plan(), None)
    assert calls == ["apply"]
    assert result["changed"] is True and not result["failed"] and result["msg"] == "csapi: a -> b"


@pytest.mark.parametrize(
    ("op", "result", "code"),
    [("lock", "locked", "STORE_LOCKED"), ("expect", "conflict", "CHANGE_CONFLICT"), ("preflight", "refused", "PRECONDITION_FAILED")],
)
def test_a_refusal_before_the_commit_changed_nothing(op: steps.Op, result: str, code: str) -> None:
    answers = results(**{op: result})
    index = [s["op"] for s in the_plan().steps].index(op)
    answers = [*answers[: index + 1], *("skipped" if s["op"] != "unlock" else "done" for s in the_plan().steps[index + 1 :])]
    fake, _calls = action(False, answers)
    outcome = change.carry_out(fake, {}, the_plan(), None)
    assert outcome["changed"] is False and outcome["failed"] is True
    assert outcome["error"]["code"] == code and outcome["msg"].startswith(f"{code}: Nothing was changed")
    assert "diff" not in outcome


def test_a_failure_after_the_commit_is_partial_and_changed() -> None:
    fake, _calls = action(False, results(quarantine="in_use"))
    outcome = change.carry_out(fake, {}, the_plan(), None)
    assert outcome["changed"] is True and outcome["failed"] is True
    assert outcome["error"]["code"] == "CHANGE_PARTIAL"
    assert "Left to do: quarantine 20261126.001" in outcome["msg"]


def test_an_agent_that_died_leaves_the_change_unknown() -> None:
    fake, _calls = action(False, None, failed="the module was killed")
    outcome = change.carry_out(fake, {}, the_plan(), None)
    assert outcome["changed"] is True and outcome["failed"] is True and outcome["error"]["code"] == "CHANGE_UNKNOWN"


def test_missing_cryptography_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "CRYPTOGRAPHY_IMPORT_ERROR", ImportError("No module named 'cryptography'"))
    with pytest.raises(SmsmseError, match="DEPENDENCY_MISSING: Catalogs need the Python package 'cryptography'"):
        catalog.load_public_key("00" * 32)


def test_the_error_table_is_refused_when_malformed() -> None:
    good = {"code": "X", "meaning": "m", "remediation": "r"}
    assert error_codes.load(json.dumps([good])) == (error_codes.ErrorCode("X", "m", "r"),)
    for table, said in (
        ({"X": good}, "a JSON list"),
        ([{**good, "extra": "e"}], "entry 0 needs exactly code, meaning, remediation"),
        ([good, {**good, "meaning": ""}], "entry 1 needs"),
        ([good, good], "repeated: X"),
    ):
        with pytest.raises(ValueError, match=said):
            error_codes.load(json.dumps(table))


def test_every_registered_code_is_used_by_the_code() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "plugins").rglob("*.py"))  # the table is error_codes.json
    unused = [code for code in BY_CODE if f'"{code}"' not in sources]
    assert unused == []


@pytest.mark.parametrize(
    ("answers", "done"),
    [({"expect": "conflict"}, False), ({"write_pointer": "failed"}, False), ({}, True), ({"quarantine": "in_use"}, True)],
)
def test_the_result_says_rolled_back_only_when_the_change_was_made(answers: dict[str, str], done: bool) -> None:
    rollback = the_plan()
    rollback.extra.update({"rolled_back": True, "downgrade": True, "replaced_in_place": True})
    ops = [s["op"] for s in rollback.steps]
    replies = results(**answers)
    if "expect" in answers:
        index = ops.index("expect")
        replies = [*replies[: index + 1], *("skipped" if op != "unlock" else "done" for op in ops[index + 1 :])]
    fake, _calls = action(False, replies)
    result = change.carry_out(fake, {}, rollback, None)
    assert (result["rolled_back"], result["downgrade"], result["replaced_in_place"]) == (done, done, done), result["msg"]
    if not result["changed"]:
        assert result["msg"].startswith(("CHANGE_CONFLICT: Nothing was changed", "CHANGE_FAILED: Nothing was changed"))


def lab_action(after_commit: Callable[[], object] | None = None) -> Any:
    """An action whose module runs the POSIX agent's apply on the lab; ``after_commit`` is the product acting after the
    change's last step and before the agent's read at the end of the call (the read is taken again after it)."""
    fake = MagicMock()
    fake._task.check_mode = False
    fake._task.diff = False
    fake._connection._shell._IS_WINDOWS = False

    def execute_module(module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        request = contract.check_request("apply", module_args["request"])
        reply = {"contract": 1, "op": "apply", **apply.run(request)}
        if after_commit is not None:
            after_commit()
            reply["read_back"] = read_back.read(list(request["read_back"]), request["wire"], None)
        return {"reply": reply}

    fake._execute_module = execute_module
    return fake


def test_a_promote_the_product_undoes_within_the_call_is_a_conflict_not_a_change_done(lab_factory: Callable[..., Path]) -> None:
    """The product's copy job points CSAPI back at its own stale set after the pointer was written: the read at the end
    of the call shows it, so the result names the product's copy instead of reporting the promote as made."""
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    stores = stores_of(inventory, "h")
    stale = stores["csapi"].active
    definfo = host(inventory, "h") / "csapi" / "definfo.dat"
    before = definfo.read_bytes()
    the_plan = promote(stores)
    assert the_plan.changes and the_plan.version != stale
    result = change.carry_out(lab_action(lambda: definfo.write_bytes(before)), {}, the_plan, None, stores=stores)
    assert result["changed"] is True and result["failed"] is True
    assert result["error"]["code"] == "CHANGE_CONFLICT"
    assert result["msg"].startswith(
        f"CHANGE_CONFLICT: csapi ({stores['csapi'].path}) names {stale} after the change, not {the_plan.version}"
    )


def test_a_promote_the_read_confirms_is_reported_done(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    stores = stores_of(inventory, "h")
    the_plan = promote(stores)
    result = change.carry_out(lab_action(), {}, the_plan, None, stores=stores)
    assert result["changed"] is True and not result.get("failed"), result["msg"]
    assert result["msg"] == the_plan.message
