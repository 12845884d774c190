"""usage.dat in the plans: every change that takes a set away moves the codes under it, in the same change, before it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, product, usage
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .test_plan import CTX, host, ops, stores_of, valid, versions_now


def usage_step(the_plan: plan.Plan) -> steps.Step:
    found = [s for s in the_plan.steps if s["op"] == "write_pointer" and s["args"].get("file") == "usage.dat"]
    assert len(found) == 1, ops(the_plan)
    return found[0]


def written(step: steps.Step) -> dict[str, list[str]]:
    return usage.parse(base64.b64decode(step["args"]["content_b64"])).sets()


def run(the_plan: plan.Plan) -> dict[str, object]:
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    reply = {"contract": 1, "op": "apply", **apply.run(contract.check_request("apply", request))}
    assert contract.problems("apply", "reply", reply) == []
    return outcome.interpret(request, reply)


def test_quarantining_a_bad_newest_set_moves_smsmse_under_the_new_active_set_first(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["usage_dat", "missing_marker"]))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    the_plan = plan.repair_source(stores, store="hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None
    valid(the_plan)
    expected = ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "write_pointer", "quarantine", "event", "unlock"]
    assert ops(the_plan) == expected
    step = usage_step(the_plan)
    assert step["args"]["expect_sha256"] == stores["hawking"].store.usage.sha256  # type: ignore[union-attr]
    assert written(step) == {versions[0]: [lab.OTHER_CODE], versions[-2]: [lab.SMSMSE_CODE]}
    assert "usage.dat" in the_plan.message
    hawking = host(inventory, "h") / "hawking"
    assert [d["before_header"] for d in the_plan.diff][:2] == [str(hawking / "definfo.dat"), str(hawking / "usage.dat")]
    assert f"[{versions[-1]}]\nSMSMSE_65=1" in the_plan.diff[1]["before"] and f"[{versions[-1]}]" not in the_plan.diff[1]["after"]
    result = run(the_plan)
    assert result["changed"] is True and not result["failed"], result["msg"]
    after = lab.read_usage(host(inventory, "h") / "hawking")
    assert after == {versions[0]: [lab.OTHER_CODE], versions[-2]: [lab.SMSMSE_CODE]}
    assert not (host(inventory, "h") / "hawking" / versions[-1]).exists()


def test_a_stale_entry_alone_is_repaired_under_the_active_good_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_usage"]))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    decided = decide.decide(stores, product.describe(product.PRODUCT_NAME, "8.0.1"))
    assert decided.usage_repairs == ("hawking",) and decided.needs_change
    the_plan = plan.repair_usage(stores, store="hawking", ctx=CTX)
    assert the_plan is not None
    valid(the_plan)
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "unlock"]
    assert written(usage_step(the_plan)) == {versions[0]: [lab.OTHER_CODE], versions[-1]: [lab.SMSMSE_CODE]}
    assert run(the_plan)["changed"] is True
    assert lab.read_usage(host(inventory, "h") / "hawking") == {versions[0]: [lab.OTHER_CODE], versions[-1]: [lab.SMSMSE_CODE]}
    again = stores_of(inventory, "h")
    assert plan.repair_usage(again, store="hawking", ctx=CTX) is None  # idempotent
    assert decide.decide(again, product.describe(product.PRODUCT_NAME, "8.0.1")).usage_repairs == ()


def test_a_store_without_usage_dat_plans_as_before(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["missing_marker"]))
    stores = stores_of(inventory, "h")
    the_plan = plan.repair_source(stores, store="hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None and "usage" not in the_plan.extra
    assert ops(the_plan) == ["lock", "expect", "clean", "preflight", "matches", "write_pointer*", "quarantine", "event", "unlock"]
    assert plan.repair_usage(stores, store="hawking", ctx=CTX) is None


def test_keep_never_retires_a_set_usage_dat_gives_another_product(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    smsmse = host(inventory, "h") / "smsmse_hawking"

    def keep_one() -> plan.Plan:
        return plan.promote(stores_of(inventory, "h"), target="smsmse_hawking", source="hawking", version="newest_good", keep=1, ctx=CTX)

    assert keep_one().extra["removed"] == [versions[0]]  # without usage.dat: the oldest set goes
    lab.write_usage(smsmse, [(versions[0], lab.OTHER_CODE), (versions[-1], lab.SMSMSE_CODE)])
    assert not keep_one().changes  # NAVCORP's set is NAVCORP's to retire
    lab.write_usage(smsmse, [(versions[0], lab.SMSMSE_CODE)])
    the_plan = keep_one()
    valid(the_plan)
    assert the_plan.extra["removed"] == [versions[0]]
    assert written(usage_step(the_plan)) == {versions[-1]: [lab.SMSMSE_CODE]}
    order = [(s["op"], s["args"].get("file") or s["args"].get("name")) for s in the_plan.steps]
    assert order.index(("write_pointer", "usage.dat")) < order.index(("retire", versions[0]))
    assert run(the_plan)["changed"] is True
    assert sorted(p.name for p in smsmse.iterdir() if p.name[:1].isdigit()) == versions[1:]
    assert lab.read_usage(smsmse) == {versions[-1]: [lab.SMSMSE_CODE]}


def test_a_usage_dat_that_changed_since_the_probe_refuses_and_keeps_the_set(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["usage_dat", "missing_marker"]))
    versions = versions_now()
    stores = stores_of(inventory, "h")
    the_plan = plan.repair_source(stores, store="hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None
    hawking = host(inventory, "h") / "hawking"
    lab.write_usage(hawking, [(versions[-1], lab.SMSMSE_CODE), (versions[-1], "SAVCORP_10")])  # another product wrote it meanwhile
    result = run(the_plan)
    assert result["failed"] is True and "usage.dat changed" in str(result["msg"])
    assert lab.read_usage(hawking) == {versions[-1]: [lab.SMSMSE_CODE, "SAVCORP_10"]}
    assert (hawking / versions[-1]).is_dir()  # the set it names was not taken away


def test_a_hostile_usage_dat_is_reported_and_never_rewritten(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["missing_marker"]))
    hawking = host(inventory, "h") / "hawking"
    versions = versions_now()
    huge = f"[{versions[-1]}]\r\nSMSMSE_65=1\r\n".encode() + b"; padding\r\n" * 20000
    (hawking / "usage.dat").write_bytes(huge)
    stores = stores_of(inventory, "h")
    assert stores["hawking"].store.usage is not None and stores["hawking"].store.usage.content is None
    assert "more than the agent reads" in str(stores["hawking"].store.usage.error)
    the_plan = plan.repair_source(stores, store="hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None and "usage" not in the_plan.extra  # the set still goes; usage.dat is not touched
    (hawking / "usage.dat").unlink()
    (tmp_path / "elsewhere.dat").write_bytes(f"[{versions[-1]}]\r\nSMSMSE_65=1\r\n".encode())
    (hawking / "usage.dat").symlink_to(tmp_path / "elsewhere.dat")
    linked = stores_of(inventory, "h")["hawking"].store.usage
    assert linked is not None and linked.kind == "link" and linked.content is None and "never read" in str(linked.error)
    assert plan.repair_usage(stores_of(inventory, "h"), store="hawking", ctx=CTX) is None


def test_the_rewrite_is_atomic_a_failed_replace_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: Any) -> None:
    from ansible_collections.mailsec.smsmse.plugins.module_utils import primitives

    store = tmp_path / "hawking"
    store.mkdir()
    old = b"[20261124.002]\r\nSMSMSE_65=1\r\n"
    (store / "usage.dat").write_bytes(old)
    ctx = primitives.Context(contract.wire(), None)
    args = {
        "file": "usage.dat",
        "content_b64": base64.b64encode(b"[20261125.003]\r\nSMSMSE_65=1\r\n").decode(),
        "expect_sha256": hashlib.sha256(old).hexdigest(),
        "expect_kind": "file",
    }

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", dst)

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        primitives.write_pointer(ctx, str(store), args)
    assert (store / "usage.dat").read_bytes() == old
    assert sorted(p.name for p in store.iterdir()) == ["usage.dat"]  # no temporary file left behind
    monkeypatch.undo()
    done = primitives.write_pointer(ctx, str(store), args)
    assert (store / "usage.dat").read_bytes() == b"[20261125.003]\r\nSMSMSE_65=1\r\n"
    assert done == {"sha256": hashlib.sha256(b"[20261125.003]\r\nSMSMSE_65=1\r\n").hexdigest(), "kind": "file"}
    with pytest.raises(ValueError, match="not a file a step may replace"):
        primitives.write_pointer(ctx, str(store), {**args, "file": "../definfo.dat"})
