"""The role's sequence on real lab hosts, in-process: decide, fix in one apply call, record (the POSIX agent does the work)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleConnectionFailure

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply as agent_apply
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_html, report_junit
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_judge, health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, structure, verify_task

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


def run(host: Host, mode: str = "enforce", marks: Sequence[Mapping[str, str]] = (), **options: Any) -> dict[str, Any]:
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
    ctx = store_view.Context(windows=False, events_file=host.vars["smsmse_defs_events_file"])
    return health_run.run_host("h", host.verified(), marks, opts, ctx=ctx, agent=host.agent())


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
            # no catalog and no fleet here: the plan says what proved the set
            "message": f"newer good set {versions()[-1]} in smsmse_hawking by structure alone"
            " (no catalog or fleet consensus proved its bytes)",
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
    ran = health_run.run_host("h", verified, [], opts, ctx=store_view.Context(windows=False), agent=host.agent())
    record = ran["record"]
    assert ran["changed"] is False and record["status"] == "failed"
    assert record["message"].startswith("CHANGE_CONFLICT: Nothing was changed: step 1 (expect in ")
    assert record["actions"][0]["result"] == "failed"


def test_unreachable_and_failed_verifications() -> None:
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    never = health_run.Agent(apply=lambda s: {}, liveupdate=lambda: {}, reverify=lambda: {})
    ctx = store_view.Context(windows=False)
    gone = health_run.run_host("h", {"unreachable": True, "msg": "timed out"}, [], opts, ctx=ctx, agent=never)["record"]
    assert (gone["status"], gone["message"], gone["checks"]) == ("unreachable", "timed out", [])
    broken = health_run.run_host("h", {"failed": True, "msg": "CATALOG_EXPIRED: ..."}, [], opts, ctx=ctx, agent=never)
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
    ran = health_run.run_host("h", host.verified(), [], opts, ctx=store_view.Context(windows=False), agent=agent, fleet=fleet)
    record = ran["record"]
    assert record["status"] == "failed" and record["message"].startswith("LiveUpdate brought no good set.")
    assert "apply" not in host.calls and not (host.root / "csapi" / new).exists()  # the tampered set never reached CSAPI


def test_store_problems_reach_every_report(one: Callable[..., Host]) -> None:
    """Entries the agent had to escape are in the host's record, and each report shows them, safely."""
    host = one()
    for raw in (b"<script>alert(1)<\xff", b"evil\nname\xfe"):  # not UTF-8, so the agent escapes them: store problems
        os.mkdir(os.path.join(os.fsencode(host.root / "csapi"), raw))
    record = run(host, mode="report")["record"]
    problems = record["store_problems"]
    assert problems["count"] == 2
    assert {(e["store"], e["code"]) for e in problems["entries"]} == {("csapi", "NAME_UNDECODABLE")}
    assert any("<script>" in e["message"] for e in problems["entries"])
    assert any("evil\nname" in e["message"] for e in problems["entries"])
    built = report.build([record], run_id="r1", started="2026-11-26T02:00:00Z", ended="2026-11-26T02:05:00Z", options={}, history=[])
    assert report.validate(built) == []
    assert built["summary"]["hosts_with_store_problems"] == 1
    assert json.loads(json.dumps(built))["hosts"][0]["store_problems"] == problems
    page = report_html.render(built)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;" in page
    assert "evil\\nname" in page
    suite = ET.fromstring(report_junit.render(built)).find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert properties["store_problems"] == "2"
    lines = (suite.findtext("system-out") or "").strip().splitlines()
    assert len(lines) == 2 and any("<script>alert(1)<" in line for line in lines) and any("evil\\nname" in line for line in lines)


def test_a_store_with_hundreds_of_old_sets_fails_the_host_with_its_own_code(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    for day in range(250):
        lab.write_set(host.root / "csapi", f"{TODAY - dt.timedelta(days=400 + day):%Y%m%d}.001")
    before = sorted(p.name for p in (host.root / "csapi").iterdir())
    ran = run(host)
    record = ran["record"]
    assert ran["changed"] is False and record["status"] == "failed"
    assert record["message"].startswith("CHANGE_TOO_LARGE: The change needs ")
    assert f"it would retire or quarantine 250 old sets of {host.root / 'csapi'} at once" in record["message"]
    assert "raise `keep`" in record["message"]
    assert sorted(p.name for p in (host.root / "csapi").iterdir()) == before


class Broken:
    """An agent whose calls raise at a chosen point, as a dropped WinRM connection or a bug would."""

    def __init__(self, host: Host, where: str, exc: BaseException) -> None:
        self.host, self.where, self.exc = host, where, exc

    def agent(self) -> health_run.Agent:
        def call(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
            def run_it(*args: Any) -> Any:
                if name == self.where:
                    raise self.exc
                return real(*args)

            return run_it

        return health_run.Agent(
            apply=call("apply", self.host.apply),
            liveupdate=call("liveupdate", self.host.liveupdate),
            reverify=call("reverify", self.host.verified),
        )


def broken_run(host: Host, where: str, exc: BaseException) -> dict[str, Any]:
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    agent = Broken(host, where, exc).agent()
    return health_run.run_host("h", host.verified(), [], opts, ctx=store_view.Context(windows=False), agent=agent)


def test_a_connection_lost_during_the_change_records_the_host_unreachable(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    ran = broken_run(host, "apply", AnsibleConnectionFailure("winrm: connection reset by peer"))
    record = ran["record"]
    assert record["status"] == "unreachable" and ran["changed"] is True
    assert record["message"].startswith("The connection to the host broke during the change: winrm: connection reset by peer")
    assert "the change may have been made" in record["message"]
    assert [(a["action"], a["result"]) for a in record["actions"]] == [("promote", "failed")]


def test_a_connection_lost_after_liveupdate_keeps_the_liveupdate(one: Callable[..., Host]) -> None:
    host = one(faults=["empty_stores"])
    ran = broken_run(host, "reverify", AnsibleConnectionFailure("ssh: connection closed"))
    record = ran["record"]
    assert record["status"] == "unreachable" and ran["changed"] is True
    assert record["message"] == "The connection to the host broke during the verification after LiveUpdate: ssh: connection closed"
    assert [(a["action"], a["result"]) for a in record["actions"]] == [("liveupdate", "done")]


def test_an_unexpected_error_is_a_failed_record_with_its_text(one: Callable[..., Host]) -> None:
    host = one(faults=["empty_stores"])
    ran = broken_run(host, "liveupdate", RuntimeError("the LiveUpdate reply was cut"))
    record = ran["record"]
    assert record["status"] == "failed" and ran["changed"] is False
    assert record["message"] == "LiveUpdate failed unexpectedly: RuntimeError: the LiveUpdate reply was cut"


@pytest.mark.parametrize(
    ("result", "status", "message"),
    [
        ({"failed": True, "msg": "'x' is undefined"}, "failed", "'x' is undefined"),
        ({"unreachable": True, "msg": "Failed to connect to the host via winrm"}, "unreachable", "Failed to connect to the host via winrm"),
        ({"skipped": True, "skip_reason": "Conditional result was False"}, "failed", "the host was skipped: Conditional result was False"),
        (None, "failed", "the host was not recorded (its defs_health_host task did not run)"),
        ({"record": {"name": "other"}}, "failed", "the host's defs_health_host task gave no record"),
    ],
)
def test_a_result_without_a_record_still_gives_the_report_one(result: Any, status: str, message: str) -> None:
    made = health_run.record_of_result("h", result, TODAY)
    assert (made["name"], made["status"], made["message"]) == ("h", status, message)
    assert (
        report.validate(
            report.build([made], run_id="r", started="2026-01-01T00:00:00Z", ended="2026-01-01T00:00:01Z", options={}, history=[])
        )
        == []
    )


def test_a_scanner_that_does_not_start_again_is_not_fixed(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi"])
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    restart = steps.Restart(windows=False, service=None, command=["/bin/sh", "-c", "echo scanner failed to start; exit 3"], timeout=10)
    ctx = store_view.Context(windows=False, events_file=str(host.root / "no-such-folder" / "events.jsonl"), restart=restart)
    ran = health_run.run_host("h", host.verified(), [], opts, ctx=ctx, agent=host.agent())
    record = ran["record"]
    assert host.active() == versions()[-1] and ran["changed"] is True  # the set was installed
    assert record["status"] == "failed"
    assert record["message"].startswith("SERVICE_NOT_RESTARTED: The change was made (")
    assert (
        "but the restart command (/bin/sh -c 'echo scanner failed to start; exit 3') did not start the scanner again" in record["message"]
    )
    (action,) = record["actions"]
    assert (action["action"], action["result"]) == ("promote", "failed")
    assert any("event in" in w and "ENOENT" in w for w in action["warnings"]), action["warnings"]


def test_a_conflict_in_csapi_does_not_cancel_the_source_store_repair(one: Callable[..., Host]) -> None:
    host = one(faults=["stale_csapi", "missing_marker"])
    verified = host.verified()
    pointer = host.root / "csapi" / "definfo.dat"
    pointer.write_bytes(pointer.read_bytes() + b"\r\n")  # the product's copy job touched CSAPI after the probe
    opts = health_run.Options(mode="enforce", max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)
    ran = health_run.run_host("h", verified, [], opts, ctx=store_view.Context(windows=False), agent=host.agent())
    record = ran["record"]
    assert ran["changed"] is True and record["status"] == "failed"
    (repair, promote) = record["actions"]  # the source store first: the product copies from it
    assert (promote["action"], promote["result"]) == ("promote", "failed")
    assert promote["message"].startswith("CHANGE_CONFLICT: Nothing was changed: step 1 (expect in ")
    assert (repair["action"], repair["result"]) == ("repair_source", "done"), repair["message"]
    assert versions()[-1] not in {p.name for p in (host.root / "smsmse_hawking").iterdir()}


def opts_of(mode: str) -> health_run.Options:
    return health_run.Options(mode=mode, max_age_days=7, keep=2, quarantine=True, repair_hawking=False, liveupdate=True, today=TODAY)


def test_the_fleet_step_settles_what_needs_no_agent_call_and_leaves_the_rest(one: Callable[..., Host]) -> None:
    drifted = one(faults=["stale_csapi"])
    verified = drifted.verified()
    # the assessment carries the store paths it was read with; the fleet step reads it back without parsing the reply
    assert verified["assessment"]["overrides"] == drifted.stores and "state" not in verified
    reported = health_run.settle("h", verified, [], opts_of("report"))
    ctx = store_view.Context(windows=False, events_file=drifted.vars["smsmse_defs_events_file"])
    ran = health_run.run_host("h", verified, [], opts_of("report"), ctx=ctx, agent=drifted.agent())
    assert reported == ran["record"] and drifted.calls == ["probe"]
    assert health_run.settle("h", verified, [], opts_of("enforce")) is None  # the host step fixes it
    gone = health_run.settle("h", {"unreachable": True, "msg": "no route"}, [], opts_of("enforce"))
    assert gone is not None and gone["status"] == "unreachable"


def test_a_settled_host_fails_the_play_exactly_when_the_report_fails_it(one: Callable[..., Host]) -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_console

    records = [
        health_run.settle("ok", one().verified(), [], opts_of("report")),
        health_run.settle("drifts", one(faults=["stale_csapi"]).verified(), [], opts_of("report")),
        health_run.settle("gone", {"unreachable": True, "msg": "no route"}, [], opts_of("report")),
        health_run.settle("broken", {"failed": True, "msg": "boom"}, [], opts_of("report")),
    ]
    for fail_on in report_console.FAIL_ON:
        for severities, mode in itertools.product((["critical", "high", "medium"], ["critical"], ["low"]), ("report", "enforce")):
            built = report.build(
                [r for r in records if r], run_id="r", started="2026-11-26T00:00:00Z", ended="2026-11-26T00:00:00Z",
                options={"mode": mode}, history=[], fail_severities=severities,
            )  # fmt: skip
            expected = set(report_console.failures(built, fail_on))
            assert {r["name"] for r in records if r and report_console.fails(r, fail_on, severities, mode)} == expected


def test_a_reply_the_verdicts_cannot_use_fails_that_host_alone(one: Callable[..., Host], monkeypatch: pytest.MonkeyPatch) -> None:
    # the reply passed the contract, but judging it raised: the host gets a failed record that says so, nothing is changed
    host = one(faults=["stale_csapi"])

    def judge_raises(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("versions")

    monkeypatch.setattr(health_judge, "judge", judge_raises)
    ran = run(host)
    assert ran["changed"] is False
    assert ran["record"]["status"] == "failed"
    assert ran["record"]["message"] == "Judging what the host reported failed unexpectedly: KeyError: 'versions'"
    assert "apply" not in host.calls


# --- report mode with distribution points: which source, which version, on which platform ---

NO_GOOD = decide.Decision(action=decide.LIVEUPDATE, reason="No good set exists.")


def source_opts(*sources: str, catalogued: tuple[str, ...] = ("20261125.003", "20261123.001")) -> health_run.Options:
    return dataclasses.replace(opts_of("report"), sources=sources, catalogued=catalogued)


@pytest.mark.parametrize("windows", [False, True])
def test_report_mode_names_the_version_a_url_would_bring(windows: bool) -> None:
    planned = health_run.planned_actions(NO_GOOD, source_opts("https://dp.example.com/smsmse", "liveupdate"), windows=windows)
    assert planned[0]["action"] == "import" and planned[0]["source"] == "https://dp.example.com/smsmse"
    assert planned[0]["version"] == "20261125.003" and "20261125.003" in planned[0]["message"]
    assert "then, if it yields no good set: liveupdate" in planned[0]["message"]


def test_report_mode_plans_a_unc_share_for_a_windows_host_only() -> None:
    share = "\\\\files\\smsmse"
    on_windows = health_run.planned_actions(NO_GOOD, source_opts(share, "liveupdate"), windows=True)
    assert (on_windows[0]["action"], on_windows[0]["source"], on_windows[0]["version"]) == ("import", share, "20261125.003")
    on_posix = health_run.planned_actions(NO_GOOD, source_opts(share, "liveupdate"), windows=False)
    assert (on_posix[0]["action"], on_posix[0]["source"]) == ("liveupdate", "liveupdate")
    assert share in on_posix[0]["message"] and "cannot be used on POSIX hosts" in on_posix[0]["message"]


def test_report_mode_skips_a_posix_folder_for_a_windows_host() -> None:
    planned = health_run.planned_actions(NO_GOOD, source_opts("/srv/smsmse", "https://dp.example.com/smsmse"), windows=True)
    assert (planned[0]["source"], planned[0]["version"]) == ("https://dp.example.com/smsmse", "20261125.003")
    assert "/srv/smsmse" in planned[0]["message"]


def test_report_mode_without_the_catalogued_versions_says_so() -> None:
    planned = health_run.planned_actions(NO_GOOD, source_opts("https://dp.example.com/smsmse", catalogued=()), windows=False)
    assert planned[0]["version"] is None and "lists no version" in planned[0]["message"]
