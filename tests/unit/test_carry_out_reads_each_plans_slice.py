"""A plan holds its steps in the order the request carries them, and health_run.carry_out reads its slice of the reply so.

The planner arranges each group once (steps.arrange: the service round moved around the
switch, a second not_in_use preflight added); the request and the reply follow that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import AgentFailed, SmsmseError

STORE = "C:\\Symantec\\CSAPI"


def replacing_plan() -> plan.Plan:
    restart = steps.Restart(windows=True, service="SMSMSE", command=None, timeout=120)
    group = steps.Group(STORE, 900, "a" * 64, [], None, restart)
    body = [
        steps.step("stage", STORE, source="C:\\Symantec\\Hawking\\20261125.003", name=".smsmse-staging-20261125.003-t", manifest={}),
        steps.step("exchange", STORE, commit=True, a=".smsmse-staging-20261125.003-t", b="20261125.003"),
        steps.step("retire", STORE, required=False, name=".smsmse-staging-20261125.003-t"),
    ]
    the_steps = [*group.opening(pointer_writable=False, not_in_use=["20261125.003"]), *body, *group.closing()]
    return plan.Plan("csapi", "20261125.003", "20261125.003", "csapi: replaced in place", the_steps)


def test_each_plan_is_read_against_the_steps_the_request_carried() -> None:
    the_plan = replacing_plan()
    sent: list[Sequence[steps.Step]] = []

    def apply(request_steps: Sequence[steps.Step]) -> dict[str, Any]:
        sent.append(request_steps)
        arranged = steps.request(request_steps, wire={"limits": {"max_steps": 4096}}, cache_dir=None)["steps"]
        assert arranged == list(request_steps), "carry_out sends the steps already arranged"
        reports = []
        for s in arranged:
            data: dict[str, Any] = {}
            if s["op"] == "service":
                data = {"stopped": True} if s["args"]["action"] == "stop" else {"started": True}
            reports.append({"op": s["op"], "result": "done", "code": None, "message": "", "data": data})
        return {"steps": reports, "warnings": []}

    actions = health_run.carry_out([the_plan], apply)
    assert sent[0] == the_plan.steps and [s["op"] for s in sent[0]].count("preflight") == 2, "the second in-use check is sent"
    assert [a["result"] for a in actions] == ["done"], actions


def test_a_plan_holds_its_steps_in_the_order_they_are_sent() -> None:
    # the plan is what diff, check mode and the reply's reading show: it must be what the host is asked to do
    the_plan = replacing_plan()
    sent = steps.request(the_plan.steps, wire={"limits": {"max_steps": 4096}}, cache_dir=None)["steps"]
    assert the_plan.steps == sent
    ops = [s["op"] for s in the_plan.steps]
    assert ops.index("service") > ops.index("stage"), "the service is stopped only around the switch"
    assert ops.count("preflight") == 2, "the in-use check runs again right before the switch"


def test_an_agent_that_died_leaves_the_change_unknown_and_any_other_error_is_raised() -> None:
    def died(_steps: Sequence[steps.Step]) -> dict[str, Any]:
        raise AgentFailed("The agent failed on 'apply': the connection was reset")

    (action,) = health_run.carry_out([replacing_plan()], died)
    assert (action["action"], action["result"]) == ("promote", "failed")
    assert "the connection was reset" in action["message"]

    def refused(_steps: Sequence[steps.Step]) -> dict[str, Any]:
        raise SmsmseError("AGENT_REPLY_INVALID", "The agent's 'apply' reply breaks the contract.")

    with pytest.raises(SmsmseError) as caught:
        health_run.carry_out([replacing_plan()], refused)
    assert caught.value.code == "AGENT_REPLY_INVALID" and not isinstance(caught.value, AgentFailed)
