"""Plans for promote, rollback and source repair, from real probes of lab hosts (no playbook): the steps they send."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure, verify
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

CTX = store_view.Context(windows=False, token=lambda: "t0k3n")


def versions_now() -> list[str]:
    return lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)


def stores_of(inventory: Path, host: str, extra: dict[str, str] | None = None) -> dict[str, store_view.StoreView]:
    hostvars = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    overrides = {**hostvars["smsmse_defs_stores"], **(extra or {})}
    request = facts.probe_request(
        is_windows=False,
        stores=hostvars["smsmse_defs_stores"],
        product_option=None,
        events_file=None,
        event_hours=1,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache")},
        extra_stores=extra,
    )
    reply = contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))
    parsed = snapshot.parse(reply, overrides)
    return store_view.view(parsed, verify.judge(parsed, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None))


def promote(stores: dict[str, store_view.StoreView], **options: Any) -> plan.Plan:
    return plan.promote(stores, **{"target": "csapi", "source": None, "version": "newest_good", "keep": 2, "ctx": CTX, **options})


def ops(the_plan: plan.Plan) -> list[str]:
    return [s["op"] + ("*" if s["commit"] else "") for s in the_plan.steps]


def valid(the_plan: plan.Plan) -> None:
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    assert contract.problems("apply", "request", request) == []


def host(inventory: Path, name: str) -> Path:
    return inventory.parent / "hosts" / name


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_promote_a_newer_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    versions = versions_now()
    the_plan = promote(stores_of(inventory, "h"))
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "stage", "rename", "write_pointer*", "event", "unlock"]
    stage = the_plan.steps[4]["args"]
    assert stage["source"].endswith(f"/smsmse_hawking/{versions[-1]}")  # a tie between the sources: the product's own
    assert stage["name"] == f".smsmse-staging-{versions[-1]}-t0k3n"
    assert sorted(stage["manifest"]) == sorted([*(name for name, _size in lab.DEFAULT_FILES), "zdone.dat"])
    new = base64.b64decode(the_plan.steps[6]["args"]["content_b64"]).decode()
    lab_section = "[Lab]\r\n; written by the mailsec.smsmse lab\r\nBuilder=mailsec.smsmse\r\n"
    assert new == f"[DefDates]\r\nCurDefs={versions[-1]}\r\n\r\n{lab_section}"
    assert the_plan.steps[3]["args"]["pointer_writable"] is True and the_plan.steps[3]["args"]["free_bytes"] > 0
    assert the_plan.steps[7]["args"]["events"][0]["id"] == 1000
    assert the_plan.extra["replaced_in_place"] is False


def test_the_diff_shows_definfo_and_the_sets(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    versions = versions_now()
    the_plan = promote(stores_of(inventory, "h"))
    pointer, sets = the_plan.diff
    assert pointer["before_header"] == str(host(inventory, "h") / "csapi" / "definfo.dat")
    assert f"CurDefs={versions[0]}\n" in pointer["before"] and f"CurDefs={versions[-1]}\n" in pointer["after"]
    assert "set " not in pointer["after"]  # only what definfo.dat will hold
    assert sets["before"] == f"{versions[0]}\n"
    assert sets["after"] == f"{versions[0]}\n{versions[-1]}\n"  # keep=2: the previous good set stays
    assert the_plan.extra["removed"] == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_the_diff_reads_definfo_in_its_own_encoding(lab_factory: Callable[..., Path], encoding: str) -> None:
    """Windows tools write definfo.dat in UTF-16 (with or without a byte-order mark): the diff shows its text."""
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    versions = versions_now()
    definfo = host(inventory, "h") / "csapi" / "definfo.dat"
    definfo.write_bytes(definfo.read_bytes().decode("ascii").encode(encoding))
    pointer = promote(stores_of(inventory, "h")).diff[0]
    assert f"[DefDates]\nCurDefs={versions[0]}\n" in pointer["before"]
    assert f"[DefDates]\nCurDefs={versions[-1]}\n" in pointer["after"]
    assert "\x00" not in pointer["before"] + pointer["after"] and "\ufffd" not in pointer["before"] + pointer["after"]


def test_a_bad_active_set_is_replaced_in_place_by_its_good_copy(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", csapi_sets=1))
    versions = versions_now()
    flip(host(inventory, "h") / "csapi" / versions[-1] / "virscan1.dat")
    stores = stores_of(inventory, "h")
    assert stores["csapi"].active_status == "bad"  # the source rule: the intact Hawking copy wins
    the_plan = promote(stores)
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "stage", "preflight", "exchange*", "retire", "event", "unlock"]
    assert the_plan.steps[3]["args"]["not_in_use"] == the_plan.steps[5]["args"]["not_in_use"] == [versions[-1]]  # before and at the switch
    exchange = the_plan.steps[6]["args"]
    assert {k: exchange[k] for k in ("a", "b")} == {"a": f".smsmse-staging-{versions[-1]}-t0k3n", "b": versions[-1]}
    assert exchange["expect_b"] == stores["csapi"].manifest(versions[-1]), "the bad copy as read: the exchange's compare-and-swap"
    assert the_plan.steps[7]["args"] == {"name": f".smsmse-staging-{versions[-1]}-t0k3n"} and not the_plan.steps[7]["required"]
    assert the_plan.extra["replaced_in_place"] is True
    assert "replaced in place" in the_plan.message


def test_a_bad_copy_nobody_points_at_is_swapped_never_removed_first(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    versions = versions_now()
    csapi = host(inventory, "h") / "csapi"
    lab.write_set(csapi, versions[-1])
    flip(csapi / versions[-1] / "virscan1.dat")
    stores = stores_of(inventory, "h")
    the_plan = promote(stores)
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "stage", "exchange", "write_pointer*", "retire", "event", "unlock"]
    exchange = the_plan.steps[5]["args"]
    assert {k: exchange[k] for k in ("a", "b")} == {"a": f".smsmse-staging-{versions[-1]}-t0k3n", "b": versions[-1]}
    assert exchange["expect_b"] == stores["csapi"].manifest(versions[-1]), "the bad copy as read: the exchange's compare-and-swap"
    assert the_plan.steps[7]["args"] == {"name": f".smsmse-staging-{versions[-1]}-t0k3n"} and not the_plan.steps[7]["required"]


def test_an_interrupted_exchange_is_finished_in_one_run(lab_factory: Callable[..., Path]) -> None:
    """The active name is missing and its folder is aside: clean puts it back, so the plan swaps rather than renames."""
    inventory = lab_factory(lab.LabHost("h", csapi_sets=1))
    versions = versions_now()
    csapi = host(inventory, "h") / "csapi"
    flip(csapi / versions[-1] / "virscan1.dat")
    (csapi / versions[-1]).rename(csapi / f".smsmse-trash-exchange-{versions[-1]}-dead")
    the_plan = promote(stores_of(inventory, "h"))
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "stage", "preflight", "exchange*", "retire", "event", "unlock"]
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    reply = contract.check_reply("apply", json.loads(json.dumps({"contract": 1, "op": "apply", **apply.run(request)})))
    read = outcome.interpret(request, reply)
    assert not read["failed"] and read["changed"], read["msg"]
    assert read["restored"] == [versions[-1]]
    assert sorted(p.name for p in csapi.iterdir()) == [versions[-1], "definfo.dat"]
    assert not promote(stores_of(inventory, "h")).changes


def test_restart_stops_before_and_starts_after_on_windows(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", csapi_sets=1))
    flip(host(inventory, "h") / "csapi" / versions_now()[-1] / "virscan1.dat")
    restart = steps.Restart(windows=True, service="SMSMSE", command=None, timeout=120)
    the_plan = promote(stores_of(inventory, "h"), ctx=store_view.Context(windows=True, restart=restart, token=lambda: "t"))
    sent = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)["steps"]
    # the service is down only around the switch: stopped after the copy, started before the tidy-up
    assert [s["op"] + ("*" if s["commit"] else "") for s in sent] == [
        "lock",
        "expect",
        "clean",
        "preflight",
        "stage",
        "service",
        "preflight",
        "exchange*",
        "service",
        "retire",
        "event",
        "unlock",
    ]
    stop, in_use, start = sent[5], sent[6], sent[8]
    assert stop["args"]["action"] == "stop" and stop["required"]
    assert sent[3]["args"]["not_in_use"] == [] and in_use["args"]["not_in_use"] == [versions_now()[-1]] and in_use["required"]
    assert start["args"]["action"] == "start" and start["always"] and start["args"]["only_if_stopped_here"]
    assert steps.arrange(sent) == sent, "arranging is idempotent"


def test_without_restart_the_in_use_check_runs_before_the_copy_and_again_before_the_switch(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", csapi_sets=1))
    flip(host(inventory, "h") / "csapi" / versions_now()[-1] / "virscan1.dat")
    the_plan = promote(stores_of(inventory, "h"), ctx=store_view.Context(windows=True, token=lambda: "t"))
    sent = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)["steps"]
    assert [s["op"] for s in sent] == [
        "lock",
        "expect",
        "clean",
        "preflight",
        "stage",
        "preflight",
        "exchange",
        "retire",
        "event",
        "unlock",
    ]
    assert sent[3]["args"]["not_in_use"] == sent[5]["args"]["not_in_use"] == [versions_now()[-1]]
    assert steps.arrange(sent) == sent


def test_rollback_restarts_before_quarantine() -> None:
    restart = steps.Restart(windows=True, service="SMSMSE", command=None, timeout=120)
    group = steps.Group("C:\\s", 900, None, [{"id": 1, "type": "Information", "message": "m"}], None, restart)
    body = [
        steps.step("matches", "C:\\s", name="20260101.001", manifest={}),
        steps.write_pointer("C:\\s", b"x", None, commit=True),
        steps.step("quarantine", "C:\\s", name="20260102.001", dest_dir="C:\\q", dest_name="x"),
    ]
    sent = steps.arrange([*group.opening(pointer_writable=True), *body, *group.closing()])
    assert [s["op"] + (":" + s["args"]["action"] if s["op"] == "service" else "") for s in sent] == [
        "lock",
        "expect",
        "clean",
        "preflight",
        "matches",
        "service:stop",
        "write_pointer",
        "service:start",
        "quarantine",
        "event",
        "unlock",
    ]


def test_promote_from_a_source_path(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    staging = tmp_path / "iu"
    lab.write_set(staging, "20200102.001")
    stores = stores_of(inventory, "h", {"source": str(staging)})
    with pytest.raises(SmsmseError, match="DOWNGRADE_REFUSED"):
        promote(stores, source="source", version="20200102.001")
    assert promote(stores, source="source").version == versions_now()[0]  # the older source set: nothing to do


def test_promote_without_any_good_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["empty_stores"]))
    with pytest.raises(SmsmseError, match=r"NO_GOOD_SET: The smsmse_hawking store holds no good set to promote\."):
        promote(stores_of(inventory, "h"))


def test_rollback_plans(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    kept = plan.rollback(stores, store="csapi", to="previous_good", quarantine=True, quarantine_dir=None, ctx=CTX)
    assert not kept.changes and kept.message.startswith(f"The active set {versions[-1]} of csapi is good")
    forced = plan.rollback(stores, store="csapi", to=versions[-2], quarantine=True, quarantine_dir=None, ctx=CTX)
    valid(forced)
    assert forced.extra["downgrade"] is True
    assert ops(forced) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "event", "unlock"]  # no quarantine
    assert forced.extra["quarantine_dir"] == str(inventory.parent / "hosts" / "h" / "mailsec-smsmse-quarantine")
    with pytest.raises(SmsmseError, match="STORE_NOT_FOUND"):
        plan.rollback(stores, store="smsmse_hawking_x", to="previous_good", quarantine=False, quarantine_dir=None, ctx=CTX)


def test_rollback_quarantines_every_bad_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    (host(inventory, "h") / "csapi" / versions[-1] / "virscan2.dat").write_bytes(b"")
    lab.write_definfo(host(inventory, "h") / "csapi", versions[-1], versions[-2])
    the_plan = plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=True, quarantine_dir=None, ctx=CTX)
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "quarantine", "event", "unlock"]
    quarantine = the_plan.steps[6]
    assert quarantine["required"] and quarantine["args"]["name"] == versions[-1]
    assert quarantine["args"]["dest_name"] == f"csapi-{versions[-1]}-t0k3n"
    assert [e["id"] for e in the_plan.steps[7]["args"]["events"]] == [1001, 1003]
    # LastDefs never names the bad set just moved out: it keeps the good set it named
    pointer = base64.b64decode(the_plan.steps[5]["args"]["content_b64"]).decode()
    assert f"CurDefs={versions[-2]}\r\nLastDefs={versions[-2]}\r\n" in pointer


def test_last_defs_names_the_set_promote_leaves_when_it_is_good(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    before = stores_of(inventory, "h")["csapi"].active
    assert before is not None
    lab.write_definfo(host(inventory, "h") / "csapi", before, before)
    stores = stores_of(inventory, "h")
    the_plan = promote(stores)
    pointer = next(base64.b64decode(s["args"]["content_b64"]).decode() for s in the_plan.steps if s["op"] == "write_pointer")
    assert f"LastDefs={before}" in pointer


def test_quarantine_alone_when_the_active_set_is_already_good(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", sets=3, csapi_sets=3))
    versions = versions_now()
    (host(inventory, "h") / "csapi" / versions[0] / "zdone.dat").unlink()  # a bad set nobody points at
    the_plan = plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=True, quarantine_dir=None, ctx=CTX)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "quarantine*", "event", "unlock"]
    assert the_plan.message == f"csapi stays at {versions[-1]}; quarantined {versions[0]}"


def test_rollback_with_nothing_older_leaves_it_to_promote(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    csapi = host(inventory, "h") / "csapi"
    (csapi / "definfo.dat").write_bytes(f"[DefDates]\r\nCurDefs={versions[-2]}\r\n".encode())
    (csapi / versions[-2] / "zdone.dat").unlink()
    the_plan = plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=False, quarantine_dir=None, ctx=CTX)
    assert not the_plan.changes and the_plan.extra == {"rolled_back": False, "proof": "structure"}
    assert the_plan.message == (
        f"The active set {versions[-2]} of csapi is bad, and no good set older than it is in the store; "
        f"defs_promote replaces it with the newest good set ({versions[-1]})."
    )
    (csapi / versions[-1] / "zdone.dat").unlink()
    nothing = plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=False, quarantine_dir=None, ctx=CTX)
    assert not nothing.changes and "the store holds no good set to roll back to" in nothing.message
    with pytest.raises(SmsmseError, match=r"SET_NOT_GOOD"):
        plan.rollback(stores_of(inventory, "h"), store="csapi", to=versions[-1], quarantine=False, quarantine_dir=None, ctx=CTX)


def test_rollback_when_curdefs_is_not_a_version(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    (host(inventory, "h") / "csapi" / "definfo.dat").write_bytes(b"[DefDates]\r\nCurDefs=garbage\r\n")
    the_plan = plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=False, quarantine_dir=None, ctx=CTX)
    assert the_plan.changes and the_plan.version == versions[-1]


def test_repair_source_quarantines_the_bad_newest_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["missing_marker"]))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    assert decide.source_risk(stores["smsmse_hawking"]) == [versions[-1]]
    the_plan = plan.repair_source(stores, store="smsmse_hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "quarantine", "event", "unlock"]
    assert the_plan.version == versions[-2] and the_plan.extra["quarantined_sets"] == [versions[-1]]
    assert plan.repair_source(stores, store="csapi", quarantine_dir=None, ctx=CTX) is None  # nothing bad newer there


def test_choose_source_prefers_the_newest_then_the_products_own(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    assert decide.choose_source(stores) == "smsmse_hawking"
    (host(inventory, "h") / "smsmse_hawking" / versions[-1] / "zdone.dat").unlink()
    assert decide.choose_source(stores_of(inventory, "h")) == "hawking"


def test_removing_only_our_own_leftovers_is_not_a_change(lab_factory: Callable[..., Path]) -> None:
    # a staging folder an interrupted run left: promote cleans it up, and says nothing the scanner sees changed
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    leftover = host(inventory, "h") / "csapi" / f"{CTX.staging_prefix}{versions[-1]}-dead0000"
    leftover.mkdir()
    (leftover / "virscan1.dat").write_bytes(b"half a copy")
    the_plan = promote(stores_of(inventory, "h"))
    assert the_plan.message == f"csapi stays at {versions[-1]}; cleaned up"
    assert steps.commit_index(the_plan.steps) is None
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    result = outcome.interpret(request, contract.check_reply("apply", {"contract": 1, "op": "apply", **apply.run(request)}))
    assert not leftover.exists()
    assert result["changed"] is False and result["error"] is None


def test_retiring_an_old_set_alone_is_a_change(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", sets=3, csapi_sets=3))
    versions = versions_now()
    the_plan = promote(stores_of(inventory, "h"))  # keep 2: the oldest of three goes
    assert the_plan.extra["removed"] == [versions[0]]
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    result = outcome.interpret(request, contract.check_reply("apply", {"contract": 1, "op": "apply", **apply.run(request)}))
    assert result["changed"] is True and result["error"] is None
    assert not (host(inventory, "h") / "csapi" / versions[0]).exists()


@pytest.mark.parametrize("proxy", [None, "http://proxy.example.com:3128"])
def test_an_import_carries_the_proxy_only_when_one_is_given(lab_factory: Callable[..., Path], proxy: str | None) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    version = "20301231.001"  # newer than any set the host holds
    manifest = {"zdone.dat": {"size": 6, "sha256": "0" * 64}}
    fetch = plan.Fetch(
        source=f"https://dp.example.com/smsmse/{version}",
        timeout_seconds=5,
        deadline_seconds=60,
        validate_certs=True,
        ca_path=None,
        proxy=proxy,
    )
    the_plan = plan.import_set(stores_of(inventory, "h"), store="hawking", version=version, manifest=manifest, fetch=fetch, ctx=CTX)
    fetching = next((s for s in the_plan.steps if s["op"] == "fetch"), None)
    assert fetching is not None, (the_plan.message, ops(the_plan))
    assert fetching["args"].get("proxy") == proxy and ("proxy" in fetching["args"]) is (proxy is not None)
    valid(the_plan)
