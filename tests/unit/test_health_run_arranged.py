"""health_run.carry_out reads each plan's slice of the reply in the order the request carried the steps.

steps.request arranges each group (the service round moved around the switch, a second
not_in_use preflight added); the reply follows that order, so each plan is read against its
arranged steps, never against the plan's own list (which has another order and length).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import health_run, plan, steps

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
    assert len(sent[0]) == len(the_plan.steps) + 1, "the second not_in_use preflight is part of the request"
    assert [a["result"] for a in actions] == ["done"], actions
