"""The role's sequence on real lab hosts, in-process: decide, fix in one apply call, record (the POSIX agent does the work)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply as agent_apply
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import (
    consensus,
    contract,
    facts,
    health_run,
    lab,
    plan,
    steps,
    structure,
    verify_task,
)
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.definfo import parse_definfo

TODAY = dt.datetime.now(dt.timezone.utc).date()


class Host:
    """One lab host, probed and changed through the real POSIX agent code, counting the agent calls."""

    def __init__(self, inventory: Path, name: str) -> None:
        self.root = inventory.parent / "hosts" / name
        self.vars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][name]
        self.stores = self.vars["smsmse_defs_stores"]
        self.calls: list[str] = []

    def verified(self) -> dict[str, Any]:
        self.calls.append("probe")
        request = facts.probe_request(
            is_windows=False,
            stores=self.stores,
            product_option=self.vars["smsmse_defs_product"],
            events_file=self.vars["smsmse_defs_events_file"],
            event_hours=72,
            hashing={"deep": False, "cache_dir": str(self.root.parent.parent / "cache" / self.root.name)},
        )
        reply = contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))
        return verify_task.result_of(reply, overrides=self.stores, required_files=structure.DEFAULT_REQUIRED_FILES, trusted=None)

    def apply(self, plan_steps: Sequence[steps.Step]) -> Mapping[str, Any]:
        self.calls.append("apply")
        request = contract.check_request("apply", steps.request(plan_steps, wire=contract.wire(), cache_dir=None))
        return contract.check_reply("apply", json.loads(json.dumps({"contract": 1, "op": "apply", **agent_apply.run(request)})))

    def liveupdate(self) -> Mapping[str, Any]:
        self.calls.append("liveupdate")
        code = lab.liveupdate(self.root, "works")
        return {"changed": code == 0, "msg": "LiveUpdate finished"} if code == 0 else {"failed": True, "msg": "LIVEUPDATE_FAILED"}

    def agent(self) -> health_run.Agent:
        return health_run.Agent(apply=self.apply, liveupdate=self.liveupdate, reverify=self.verified)

    def active(self, store: str = "csapi") -> str | None:
        return parse_definfo((self.root / store / "definfo.dat").read_bytes()).cur_defs


def run(host: Host, mode: str = "enforce", marks: Sequence[Mapping[str, Any]] = (), **options: Any) -> dict[str, Any]:
    opts = health_run.Options(
        **{
            "mode": mode,
            "max_age_days": 7,
            "keep": 2,
            "quarantine": True,
            "repair_hawking": False,
            "liveupdate": True,
            "today": TODAY,
            **options,
        }
    )
    ctx = plan.Context(windows=False, events_file=host.vars["smsmse_defs_events_file"])
    return health_run.run_host("h", host.verified(), marks, opts, overrides=host.stores, ctx=ctx, agent=host.agent())


def versions() -> list[str]:
    return lab.set_versions(TODAY, 3)


@pytest.fixture
def one(lab_factory: Callable[..., Path]) -> Callable[..., Host]:
    def build(**spec: Any) -> Host:
        return Host(lab_factory(lab.LabHost("h", **spec)), "h")

    return build


def test_report_mode_plans_and_calls_nothing_more(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    ran = run(host, mode="report")
    assert host.calls == ["probe"] and ran["changed"] is False
    record = ran["record"]
    assert record["status"] == "drift"
    assert record["actions"] == [
        {
            "action": "promote",
            "result": "planned",
            "version": versions()[-1],
            "previous": None,
            "message": f"newer good set {versions()[-1]} in smsmse_hawking",
        }
    ]


def test_enforce_promotes_in_one_call(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    ran = run(host)
    assert host.calls == ["probe", "apply"]
    record = ran["record"]
    assert ran["changed"] is True and record["status"] == "fixed", record["message"]
    assert host.active() == versions()[-1] == record["versions"]["csapi_active"]
    assert [c["status"] for c in record["checks"] if c["id"] == "csapi_newest"] == ["fixed"]
    again = run(host)
    assert again["changed"] is False and again["record"]["status"] == "compliant"


def test_a_bad_newest_source_set_is_quarantined_and_the_risk_reported(one: Callable[..., Host]) -> None:
    host = one(faults=["missing_marker"], version="6.0.11")
    newest, previous = versions()[-1], versions()[-2]
    ran = run(host)
    record = ran["record"]
    assert host.calls == ["probe", "apply"] and ran["changed"] is True
    assert [a["action"] for a in record["actions"]] == ["repair_source"]
    assert not (host.root / "smsmse_hawking" / newest).exists() and host.active("smsmse_hawking") == previous
    assert (host.root / "hawking" / newest).exists()  # shared with SAV/SEP: not touched without the option
    assert record["status"] == "drift"
    (check,) = [c for c in record["checks"] if c["id"] == "hawking_newest_good"]
    assert check["status"] == "fail" and "SMSMSE 6.0.11 does not verify definitions" in check["detail"]
    ran = run(host, repair_hawking=True)
    assert not (host.root / "hawking" / newest).exists()
    statuses = {c["id"]: c["status"] for c in ran["record"]["checks"]}
    assert statuses["hawking_newest_good"] == "fixed"
    assert [k for k, v in statuses.items() if v == "fail"] == ["product_verifies"]  # 6.0.11 cannot be fixed by us
    quarantined = sorted(p.name for p in (host.root / "mailsec-smsmse-quarantine").iterdir())
    assert [name.split("-")[0] for name in quarantined] == ["hawking", "smsmse_hawking"]


def test_liveupdate_then_the_same_decision_again(one: Callable[..., Host]) -> None:
    host = one(faults=["empty_stores"])
    ran = run(host)
    record = ran["record"]
    assert host.calls == ["probe", "liveupdate", "probe", "apply"]
    assert [a["action"] for a in record["actions"]] == ["liveupdate", "promote"]
    assert record["status"] == "fixed" and host.active() == lab.liveupdate_version(TODAY)


def test_a_failed_change_is_recorded_with_its_code(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    verified = host.verified()
    (host.root / "csapi" / "definfo.dat").write_bytes(b"[DefDates]\r\nCurDefs=19990101.001\r\n")  # the product moved on
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    ran = health_run.run_host("h", verified, [], opts, overrides=host.stores, ctx=plan.Context(windows=False), agent=host.agent())
    record = ran["record"]
    assert ran["changed"] is False and record["status"] == "failed"
    assert record["message"].startswith("CHANGE_CONFLICT: Nothing was changed: step 1 (expect in ")
    assert record["actions"][0]["result"] == "failed"


def test_unreachable_and_failed_verifications() -> None:
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    never = health_run.Agent(apply=lambda s: {}, liveupdate=lambda: {}, reverify=lambda: {})
    ctx = plan.Context(windows=False)
    gone = health_run.run_host("h", {"unreachable": True, "msg": "timed out"}, [], opts, overrides={}, ctx=ctx, agent=never)["record"]
    assert (gone["status"], gone["message"], gone["checks"]) == ("unreachable", "timed out", [])
    broken = health_run.run_host("h", {"failed": True, "msg": "CATALOG_EXPIRED: ..."}, [], opts, overrides={}, ctx=ctx, agent=never)
    assert broken["record"]["status"] == "failed" and broken["record"]["checks"][0]["status"] == "error"


def test_after_liveupdate_the_fleet_judges_again(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["empty_stores"]), lab.LabHost("peer"))
    peer, host = Host(inventory, "peer"), Host(inventory, "h")
    lab.liveupdate(peer.root, "works")
    truth = consensus.host_votes(peer.verified()["ansible_facts"]["smsmse_defs"]["verification"])
    fleet = health_run.Fleet({version: {digest: 3} for version, digest in truth.items()}, 0.5)
    new = lab.liveupdate_version(TODAY)

    def tampered_liveupdate() -> Mapping[str, Any]:
        lab.liveupdate(host.root, "works")
        for store in ("hawking", "smsmse_hawking"):
            path = host.root / store / new / "virscan1.dat"
            path.write_bytes(b"X" + path.read_bytes()[1:])
        return {"changed": True, "msg": "LiveUpdate finished"}

    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    agent = health_run.Agent(apply=host.apply, liveupdate=tampered_liveupdate, reverify=host.verified)
    ran = health_run.run_host(
        "h", host.verified(), [], opts, overrides=host.stores, ctx=plan.Context(windows=False), agent=agent, fleet=fleet
    )
    record = ran["record"]
    assert record["status"] == "failed" and record["message"].startswith("LiveUpdate brought no good set.")
    assert "apply" not in host.calls and not (host.root / "csapi" / new).exists()  # the tampered set never reached CSAPI


def opts_of(mode: str) -> health_run.Options:
    return health_run.Options(mode=mode, max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)


def test_the_fleet_step_settles_what_needs_no_agent_call_and_leaves_the_rest(one: Callable[..., Host]) -> None:
    drifted = one(faults=["stale_csapi"])
    verified = drifted.verified()
    # the verification carries the store paths it was parsed with, so the fleet step parses it again alike
    assert verified["state"]["stores"] == drifted.stores
    reported = health_run.settle("h", verified, [], opts_of("report"), overrides=verified["state"]["stores"])
    ctx = plan.Context(windows=False, events_file=drifted.vars["smsmse_defs_events_file"])
    ran = health_run.run_host("h", verified, [], opts_of("report"), overrides=drifted.stores, ctx=ctx, agent=drifted.agent())
    assert reported == ran["record"] and drifted.calls == ["probe"]
    assert health_run.settle("h", verified, [], opts_of("enforce"), overrides=drifted.stores) is None  # the host step fixes it
    gone = health_run.settle("h", {"unreachable": True, "msg": "no route"}, [], opts_of("enforce"), overrides={})
    assert gone is not None and gone["status"] == "unreachable"


def test_a_settled_host_fails_the_play_exactly_when_the_report_fails_it(one: Callable[..., Host]) -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils import report, report_console

    records = [
        health_run.settle("ok", one().verified(), [], opts_of("report"), overrides={}),
        health_run.settle("drifts", one(faults=["stale_csapi"]).verified(), [], opts_of("report"), overrides={}),
        health_run.settle("gone", {"unreachable": True, "msg": "no route"}, [], opts_of("report"), overrides={}),
        health_run.settle("broken", {"failed": True, "msg": "boom"}, [], opts_of("report"), overrides={}),
    ]
    for fail_on in report_console.FAIL_ON:
        for severities in (["critical", "high", "medium"], ["critical"], ["low"]):
            built = report.build(
                [r for r in records if r], run_id="r", started="2026-11-26T00:00:00Z", ended="2026-11-26T00:00:00Z",
                options={}, history=[], fail_severities=severities,
            )  # fmt: skip
            expected = set(report_console.failures(built, fail_on))
            assert {r["name"] for r in records if r and report_console.fails(r, fail_on, severities)} == expected
