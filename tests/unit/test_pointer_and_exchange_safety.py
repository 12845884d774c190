"""LastDefs never names a removed set; the in-place exchange is compare-and-swap; quarantine_dir is a full path (issue 21)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

from .test_plan import CTX, flip, host, promote, stores_of, versions_now


def pointer_of(the_plan: plan.Plan) -> bytes:
    return next(base64.b64decode(s["args"]["content_b64"]) for s in the_plan.steps if s["op"] == "write_pointer")


def test_last_defs_never_names_a_set_promote_removes(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    csapi = host(inventory, "h") / "csapi"
    old = "20200101.001"
    lab.write_set(csapi, old)
    before = stores_of(inventory, "h")["csapi"].active
    lab.write_definfo(csapi, before or "", old)  # LastDefs names the old set, which keep=1... retires
    the_plan = promote(stores_of(inventory, "h"), keep=1)
    assert old in the_plan.extra["removed"]
    last = parse_definfo(pointer_of(the_plan)).get("DefDates", "LastDefs")
    assert last not in the_plan.extra["removed"] and last is not None


def test_last_defs_never_names_a_set_rollback_quarantines(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", sets=3, csapi_sets=3))
    versions = versions_now()
    csapi = host(inventory, "h") / "csapi"
    flip(csapi / versions[-1] / "virscan1.dat")
    (csapi / versions[0] / "zdone.dat").unlink()  # bad, and named by LastDefs
    lab.write_definfo(csapi, versions[-1], versions[0])
    the_plan = plan.rollback(stores_of(inventory, "h"), store="csapi", to=versions[-2], quarantine=True, quarantine_dir=None, ctx=CTX)
    moved = [s["args"]["name"] for s in the_plan.steps if s["op"] == "quarantine"]
    assert versions[0] in moved
    last = parse_definfo(pointer_of(the_plan)).get("DefDates", "LastDefs")
    assert last not in moved


@pytest.mark.parametrize("where", ["quarantine", "./q", "q/../q"])
def test_a_relative_quarantine_dir_is_refused_before_anything_changes(lab_factory: Callable[..., Path], where: str) -> None:
    inventory = lab_factory(lab.LabHost("h", sets=3, csapi_sets=3))
    (host(inventory, "h") / "csapi" / versions_now()[0] / "zdone.dat").unlink()
    with pytest.raises(SmsmseError, match=rf"OPTION_INVALID: `quarantine_dir` is '{where}'.*full path"):
        plan.rollback(stores_of(inventory, "h"), store="csapi", to="previous_good", quarantine=True, quarantine_dir=where, ctx=CTX)


def test_a_second_concurrent_in_place_exchange_finds_its_expectation_unmet(lab_factory: Callable[..., Path]) -> None:
    """Two runs plan the same in-place replacement of a bad active set; the first makes it, the second must not (event 1000 once)."""
    inventory = lab_factory(lab.LabHost("h"))
    versions = versions_now()
    csapi = host(inventory, "h") / "csapi"
    flip(csapi / versions[-1] / "virscan1.dat")
    stores = stores_of(inventory, "h")
    first = plan.promote(
        stores, target="csapi", source=None, version="newest_good", keep=2, ctx=store_view.Context(windows=False, token=lambda: "a1")
    )
    second = plan.promote(
        stores, target="csapi", source=None, version="newest_good", keep=2, ctx=store_view.Context(windows=False, token=lambda: "b2")
    )
    assert first.extra["replaced_in_place"] and second.extra["replaced_in_place"]
    results = []
    for the_plan in (first, second):
        request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
        reply = contract.check_reply("apply", json.loads(json.dumps({"contract": 1, "op": "apply", **apply.run(request)})))
        results.append(outcome.interpret(request, reply))
    assert results[0]["changed"] is True and not results[0]["failed"]
    assert results[1]["failed"] is True and results[1]["error"]["code"] == "CHANGE_CONFLICT", results[1]["msg"]
    assert results[1]["changed"] is False
    assert [st["result"] for st in results[1]["steps"] if st["op"] == "exchange"] == ["conflict"], results[1]["steps"]
    assert (
        lab.file_bytes(versions[-1], "virscan1.dat", dict(lab.DEFAULT_FILES)["virscan1.dat"])
        == (csapi / versions[-1] / "virscan1.dat").read_bytes()
    )


def test_a_source_repair_rewrites_a_last_defs_that_names_the_set_it_quarantines(lab_factory: Callable[..., Path]) -> None:
    """The pointer already names the good set but LastDefs names the bad newest one: without rewriting it first, the
    quarantine (which never removes a set the pointer names) would refuse on every run."""
    inventory = lab_factory(lab.LabHost("h", faults=["missing_marker"]))
    versions = versions_now()
    source = host(inventory, "h") / "smsmse_hawking"
    lab.write_definfo(source, versions[-2], versions[-1])
    the_plan = plan.repair_source(stores_of(inventory, "h"), store="smsmse_hawking", quarantine_dir=None, ctx=CTX)
    assert the_plan is not None
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    reply = contract.check_reply("apply", json.loads(json.dumps({"contract": 1, "op": "apply", **apply.run(request)})))
    read = outcome.interpret(request, reply)
    assert read["changed"] is True and not read["failed"], read["msg"]
    assert versions[-1] not in {p.name for p in source.iterdir()}
    info = parse_definfo((source / "definfo.dat").read_bytes())
    assert (info.cur_defs, info.get("DefDates", "LastDefs")) == (versions[-2], versions[-2])
