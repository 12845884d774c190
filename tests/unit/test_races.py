"""The product races enforce (issue 21): the order of a change, the read at its end, and removals the pointer forbids.

A product that does not verify (6.0.10) copies whatever its source store holds into CSAPI
and points CSAPI at it, at any moment, knowing nothing of the store lock. These tests let it
act inside the one ``apply`` call, exactly where enforce used to report "fixed" from its plan.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply as agent_apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product

from .apply_host import complete, definfo_bytes
from .test_health_run import TODAY, Host, run, versions


@pytest.fixture
def blind(lab_factory: Callable[..., Path]) -> Host:
    """A 6.0.10 host (no verification) with CSAPI behind and a corrupt newest set in both source stores."""
    return Host(lab_factory(lab.LabHost("h", version="6.0.10", faults=["stale_csapi", "corrupt_newest"])), "h")


def corrupt_newest_marks() -> list[dict[str, str]]:
    """The fleet's verdict on the flipped byte (without a catalog, consensus is what finds it)."""
    bad = versions()[-1]
    return [
        {"store": s, "version": bad, "code": "CONSENSUS_MINORITY", "message": "the fleet disagrees"} for s in ("hawking", "smsmse_hawking")
    ]


def product_acts_before(op: str, store_name: str, act: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's copy job runs right before the agent's ``op`` step on ``store_name``, inside the apply call."""
    real = agent_apply.PRIMITIVES[op]

    def racing(ctx: Any, store: str, args: dict[str, Any]) -> dict[str, Any]:
        if os.path.basename(store) == store_name:
            act()
        return real(ctx, store, args)

    monkeypatch.setitem(agent_apply.PRIMITIVES, op, racing)


def test_the_source_store_is_repaired_before_csapi(blind: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    real = blind.apply

    def recording(plan_steps: Any) -> Any:
        sent.extend(os.path.basename(s["store"]) for s in plan_steps)
        return real(plan_steps)

    monkeypatch.setattr(blind, "apply", recording)
    ran = run(blind, marks=corrupt_newest_marks())
    assert ran["record"]["status"] != "failed", ran["record"]["message"]
    stores = list(dict.fromkeys(sent))
    assert stores == ["smsmse_hawking", "csapi"], "the product's source first: it cannot copy back what CSAPI moves away from"


def test_a_race_lost_to_the_product_is_a_conflict_naming_its_copy_never_fixed(blind: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = versions()[-1]
    csapi = blind.root / "csapi"

    def product_copies_the_corrupt_set() -> None:  # its copy of the corrupt set began before the repair, and ends now
        if not (csapi / bad).exists():
            lab_product.copy_set(blind.root / "hawking" / bad, csapi, bad)
        lab_product.point(csapi, bad)

    product_acts_before("unlock", "csapi", product_copies_the_corrupt_set, monkeypatch)
    ran = run(blind, marks=corrupt_newest_marks())
    record = ran["record"]
    assert ran["changed"] is True
    assert record["status"] == "failed", "a host whose CSAPI names a corrupt set is never fixed"
    assert record["message"].startswith(f"CHANGE_CONFLICT: csapi ({csapi}) names {bad} after the change, not {versions()[-2]}")
    assert f"{csapi}/{bad}" in record["message"], "the product's copy is named"
    promote = next(a for a in record["actions"] if a["action"] == "promote")
    assert promote["result"] == "failed" and promote["message"].startswith("CHANGE_CONFLICT: csapi")
    assert record["versions"]["csapi_active"] == bad
    assert [c["status"] for c in record["checks"] if c["id"] == "csapi_active_good"] == ["fail"]


@pytest.mark.parametrize("moment", ["retire", "unlock"])
def test_csapi_never_names_a_folder_the_run_removed_and_is_never_fixed_off_its_set(
    blind: Host, monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """The product points CSAPI back at an old set, which the promote retires: before the retire, the set stays
    (retire reads the pointer first); after it, the pointer names a missing folder, and the read says so."""
    csapi = blind.root / "csapi"
    old = (TODAY - dt.timedelta(days=20)).strftime("%Y%m%d") + ".001"
    lab.write_set(csapi, old)  # older than the previous good set the promote keeps: it is retired
    product_acts_before(moment, "csapi", lambda: lab_product.point(csapi, old), monkeypatch)
    ran = run(blind, marks=corrupt_newest_marks())
    record = ran["record"]
    assert lab_product.active(csapi) == old == record["versions"]["csapi_active"]
    assert record["status"] not in ("fixed", "compliant"), record["message"]
    if moment == "retire":
        assert complete(csapi / old, old), "the set the pointer names was never removed"
        assert [c["status"] for c in record["checks"] if c["id"] == "csapi_newest"] == ["fail"]
    else:
        assert not (csapi / old).exists()
        assert record["status"] == "failed"
        assert record["message"].startswith(f"CHANGE_CONFLICT: csapi ({csapi}) names {old} after the change, not {versions()[-2]}")
        assert "which is not in the store" in record["message"]


def test_the_read_makes_a_quiet_host_fixed(blind: Host) -> None:
    ran = run(blind, marks=corrupt_newest_marks())
    record = ran["record"]
    status = {c["id"]: c["status"] for c in record["checks"]}
    assert (status["csapi_active_good"], status["csapi_newest"]) == ("pass", "fixed"), record["checks"]
    # Hawking, which enforce leaves alone by default, still holds the corrupt set: that drift stays, and is said
    assert record["status"] == "drift" and status["hawking_newest_good"] == "fail"
    assert record["versions"]["csapi_active"] == versions()[-2] == lab_product.active(blind.root / "csapi")
    assert lab_product.is_good(blind.root / "csapi" / versions()[-2], versions()[-2])


def test_retire_puts_a_set_back_when_the_pointer_names_it_after_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The product points the store at the set between retire's first check and its rename: the set is put back."""
    store = tmp_path / "csapi"
    old, new = "20261123.001", "20261125.003"
    for version in (old, new):
        lab.write_set(store, version)
    (store / "definfo.dat").write_bytes(definfo_bytes(new))
    real_rename = os.rename

    def product_points_meanwhile(src: Any, dst: Any) -> None:
        real_rename(src, dst)
        if os.path.basename(str(src)) == old:
            (store / "definfo.dat").write_bytes(definfo_bytes(old))

    monkeypatch.setattr(os, "rename", product_points_meanwhile)
    monkeypatch.setattr(shutil, "rmtree", lambda path: pytest.fail(f"{path} was deleted"))
    step = {"op": "retire", "store": str(store), "required": False, "always": False, "commit": False, "args": {"name": old}}
    reply = agent_apply.run(contract.check_request("apply", {"wire": contract.wire(), "cache_dir": None, "steps": [step]}))
    (report,) = reply["steps"]
    assert (report["result"], report["data"]["removed"]) == ("conflict", False), report
    assert "put back" in report["message"]
    assert complete(store / old, old)
    assert sorted(p.name for p in store.iterdir()) == [old, new, "definfo.dat"]
