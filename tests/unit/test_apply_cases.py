"""Every case of tests/contract/apply_cases.yml, through the POSIX agent on real folders and the controller's reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract, outcome

from .apply_host import cases, host_for

CASES = cases()
RESULTS = ("done", "skipped", "failed", "locked", "conflict", "refused", "source_changed", "in_use", "timeout")


def test_the_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    ops = contract.schema("apply", "request")["$defs"]["step"]["properties"]["op"]["enum"]
    for case in CASES:
        assert set(case) <= {"name", "about", "needs", "setup", "steps", "expect", "after", "outcome"}, case["name"]
        assert len(case["expect"]) == len(case["steps"]), f"{case['name']}: one expected result per step"
        assert all(step["op"] in ops for step in case["steps"]), case["name"]
        assert all(entry.split(":")[0] in RESULTS for entry in case["expect"]), case["name"]
    assert {step["op"] for case in CASES for step in case["steps"]} == set(ops), "every op has a case"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    with host_for(case, tmp_path) as host:
        request = host.request(case["steps"])
        reply = {"contract": 1, "op": "apply", **apply.run(request)}
        host.release()
        assert contract.problems("apply", "reply", reply) == []
        got = [r["result"] + (f":{r['code']}" if ":" in want else "") for r, want in zip(reply["steps"], case["expect"])]
        assert got == case["expect"], [(r["op"], r["result"], r["code"], r["message"]) for r in reply["steps"]]
        host.check_after(case.get("after", {}))
        read = outcome.interpret(request, reply)
        want = case["outcome"]
        assert read["changed"] is want["changed"], read["msg"]
        assert read["failed"] is ("code" in want), read["msg"]
        assert (read["error"] or {}).get("code") == want.get("code"), read["msg"]
