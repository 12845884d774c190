"""One typed assessment per host: read once, carried as data between the role's steps, decided once."""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import assessment
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import snapshot, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust.problems import ProblemRecord
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

from .test_health_run import TODAY, Host, opts_of


def test_what_defs_verify_registers_is_the_assessment_and_no_raw_reply(lab_factory: Callable[..., Path]) -> None:
    host = Host(lab_factory(lab.LabHost("h", faults=["stale_csapi"])), "h")
    verified = host.verified()
    assert "state" not in verified
    data = verified["assessment"]
    assert sorted(data) == ["checks", "decision", "facts", "format", "marks", "overrides", "snapshot", "verification"]
    assert "contract" not in data["snapshot"] and "op" not in data["snapshot"]  # the agent's envelope is gone
    assert data["verification"]["sets"] == verified["sets"] and data["decision"] is None
    assert not list(assessment._validator().iter_errors(json.loads(json.dumps(data))))


def test_the_assessment_comes_back_from_json_the_same(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["usage_dat", "malformed_definfo"]))
    host = Host(inventory, "h")
    found = assessment.Assessment.from_dict(host.verified()["assessment"])
    decided = found.decided(repair_hawking=False, max_age_days=7, today=TODAY)
    again = assessment.Assessment.from_dict(json.loads(json.dumps(decided.to_dict())))
    assert again == decided
    assert again.snapshot.stores["csapi"].pointer.error is not None  # the damaged definfo.dat stays the store's problem
    usage = again.snapshot.stores["hawking"].usage
    assert usage is not None and usage.content == decided.snapshot.stores["hawking"].usage.content  # type: ignore[union-attr]


def test_one_parse_and_one_decision_per_host_per_run(lab_factory: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inventory = lab_factory(lab.LabHost("ok"), lab.LabHost("stale", faults=["stale_csapi"]), lab.LabHost("bad", faults=["corrupt_newest"]))
    hosts = {name: Host(inventory, name) for name in ("ok", "stale", "bad")}
    parsed: Counter[str] = Counter()
    decided: Counter[str] = Counter()
    real_parse, real_decide = snapshot.parse, decide.decide

    def counting_parse(reply: Any, overrides: Any) -> snapshot.Snapshot:
        parsed[_lab_host(reply["stores"][0]["path"])] += 1
        return real_parse(reply, overrides)

    def counting_decide(stores: Any, product: Any, **kwargs: Any) -> decide.Decision:
        decided[_lab_host(next(iter(stores.values())).path)] += 1
        return real_decide(stores, product, **kwargs)

    monkeypatch.setattr(snapshot, "parse", counting_parse)
    monkeypatch.setattr(decide, "decide", counting_decide)
    # the role: defs_verify on every host, the fleet step once, the host step for the pending hosts
    results = {name: host.verified() for name, host in hosts.items()}
    marks, votes = health_run.fleet_marks(results, enabled=True, threshold=0.5)
    fleet = health_run.Fleet(votes, 0.5)
    pending = {}
    for name, verified in results.items():
        settled, judged = health_run.settle_verified(name, verified, marks[name], opts_of("enforce"), agreed=fleet.agreed())
        if settled is None:
            assert judged is not None and judged.assessed is not None
            pending[name] = json.loads(json.dumps(judged.assessed.to_dict()))  # through the registered fleet result
    assert sorted(pending) == ["bad", "stale"]
    for name, handed in pending.items():
        host = hosts[name]
        ran = health_run.run_host(
            name, results[name], marks[name], opts_of("enforce"), ctx=store_view.Context(windows=False), agent=host.agent(),
            fleet=fleet, decided_by_fleet=handed,
        )  # fmt: skip
        assert ran["changed"] is True and ran["record"]["status"] == "fixed", ran["record"]["message"]
    assert parsed == Counter({"ok": 1, "stale": 1, "bad": 1})
    assert decided == Counter({"ok": 1, "stale": 1, "bad": 1})


def _lab_host(path: str) -> str:
    """The lab host a store path belongs to (``.../hosts/<name>/<store>``)."""
    return Path(path).parent.name


def test_the_host_step_records_the_same_from_the_fleets_decision_as_from_its_own(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("a", faults=["stale_csapi"]), lab.LabHost("b", faults=["stale_csapi"]))
    records = []
    for name, handed in (("a", True), ("b", False)):
        host = Host(inventory, name)
        verified = host.verified()
        _settled, judged = health_run.settle_verified(name, verified, [], opts_of("enforce"))
        assert judged is not None and judged.assessed is not None
        ran = health_run.run_host(
            name, verified, [], opts_of("enforce"), ctx=store_view.Context(windows=False), agent=host.agent(),
            decided_by_fleet=judged.assessed.to_dict() if handed else None,
        )  # fmt: skip
        found = ran["record"]
        # two lab hosts built moments apart: what they did and how each check came out must match
        records.append(
            {**{k: found[k] for k in ("status", "message", "actions")}, "checks": [(c["id"], c["status"]) for c in found["checks"]]}
        )
    assert records[0] == records[1] and records[0]["status"] == "fixed"


def test_a_change_module_refuses_a_state_that_is_not_an_assessment(lab_factory: Callable[..., Path]) -> None:
    host = Host(lab_factory(lab.LabHost("h")), "h")
    data = host.verified()["assessment"]
    tampered = copy.deepcopy(data)
    tampered["snapshot"]["stores"]["csapi"]["sets"][0]["files"][0]["sha256"] = "not a digest"
    bad: Any
    for bad in (tampered, {"reply": {}, "stores": {}}, "text"):
        with pytest.raises(SmsmseError) as caught:
            assessment.checked(bad, option="state")
        assert caught.value.code == "OPTION_INVALID" and "`state`" in str(caught.value) and "defs_verify" in str(caught.value)
    assert assessment.checked(json.loads(json.dumps(data)), option="state").overrides == host.stores


def test_a_rejudged_assessment_applies_the_callers_marks_to_the_same_snapshot(lab_factory: Callable[..., Path]) -> None:
    host = Host(lab_factory(lab.LabHost("h")), "h")
    found = assessment.Assessment.from_dict(host.verified()["assessment"])
    newest = found.verification["newest_good"]["csapi"]
    assert newest is not None
    problem: ProblemRecord = {"code": "CONSENSUS_MINORITY", "message": "marked", "path": None}
    again = assessment.rejudged(
        found, required_files=structure.DEFAULT_REQUIRED_FILES, trusted=None, marks=[verify.Mark("csapi", newest, problem)]
    )
    assert again.snapshot is found.snapshot
    assert next(s for s in again.verification["sets"] if s["store"] == "csapi" and s["version"] == newest)["status"] == "bad"
    assert again.verification["newest_good"]["csapi"] != newest
