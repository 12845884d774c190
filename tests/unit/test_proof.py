"""Every verdict names its proof: ``catalog``, ``consensus`` or ``structure``; whatever calls a set good says when it is structure alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report, report_console, report_html, report_junit
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify

from .test_trust import NEWEST, copy, judge, lab_catalog, probe

TODAY = dt.datetime.now(dt.timezone.utc).date()


def lone_csapi(lab_factory: Callable[..., Path], *faults: str) -> Path:
    """A host with only a CSAPI store (no source store to compare with)."""
    inventory = lab_factory(lab.LabHost("h", faults=list(faults)))
    for store in ("hawking", "smsmse_hawking"):
        shutil.rmtree(inventory.parent / "hosts" / "h" / store)
    data = json.loads(inventory.read_text())
    hostvars = data["all"]["children"]["smsmse_lab"]["hosts"]["h"]
    hostvars["smsmse_defs_stores"] = {"csapi": hostvars["smsmse_defs_stores"]["csapi"], "hawking": None, "smsmse_hawking": None}
    inventory.write_text(json.dumps(data))
    return inventory


def test_without_catalog_or_fleet_a_good_verdict_is_structure_alone(lab_factory: Callable[..., Path]) -> None:
    inventory = lone_csapi(lab_factory, "tampered_csapi")
    result = judge(inventory, "h")
    # a changed byte the structure rules cannot see: the copy stays good, but says what proved it
    assert copy(result, "csapi")["status"] == "good" and copy(result, "csapi")["proof"] == "structure"
    assert result["active"]["csapi"] == {**result["active"]["csapi"], "status": "good", "proof": "structure"}
    assert verify.described(result["active"]["csapi"]) == "good by structure alone (no catalog or fleet consensus proved its bytes)"


def test_a_catalog_proves_good_and_bad(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["tampered_csapi"]))
    result = judge(inventory, "h", lab_catalog(inventory.parent))
    assert copy(result, "hawking")["status"] == "good" and copy(result, "hawking")["proof"] == "catalog"
    assert copy(result, "csapi")["status"] == "bad" and copy(result, "csapi")["proof"] == "catalog"
    assert result["active"]["hawking"]["proof"] == "catalog"
    assert verify.described(result["active"]["hawking"]) == "good (the signed catalog matched every byte)"


def test_a_decided_fleet_vote_proves_its_winner_and_its_minority(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(*(lab.LabHost(f"h{i}") for i in range(3)), lab.LabHost("odd", faults=["tampered_csapi"]))
    verifications = {name: judge(inventory, name) for name in ("h0", "h1", "h2", "odd")}
    decided = consensus.winners(consensus.tally(verifications))
    odd = verify.apply_consensus(verifications["odd"], consensus.findings("odd", verifications["odd"], decided), "odd", decided)
    assert copy(odd, "csapi")["status"] == "bad" and copy(odd, "csapi")["proof"] == "consensus"
    assert copy(odd, "hawking")["status"] == "good" and copy(odd, "hawking")["proof"] == "consensus"
    assert verify.described(odd["active"]["hawking"]) == "good (a decided fleet vote agreed with its bytes)"
    # a version the fleet did not decide keeps the proof of its own checks
    undecided = verify.mark_bad(verifications["h0"], [], agreed={})
    assert {s["proof"] for s in undecided["sets"]} == {"structure"}


def test_the_catalog_outranks_the_fleet_as_proof(lab_factory: Callable[..., Path]) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    result = judge(inventory, "h", lab_catalog(inventory.parent))
    digest = copy(result, "csapi")["digest"]
    assert digest is not None
    agreed = {NEWEST: (digest, 3, 3)}
    assert copy(verify.mark_bad(result, [], agreed=agreed), "csapi")["proof"] == "catalog"


def test_rollback_of_a_lone_host_says_the_set_is_good_by_structure_alone(lab_factory: Callable[..., Path]) -> None:
    inventory = lone_csapi(lab_factory, "tampered_csapi")
    host = probe(inventory, "h")
    stores = store_view.view(host, judge(inventory, "h"))
    ctx = store_view.Context(windows=False)
    done = plan.rollback(stores, store="csapi", to="previous_good", quarantine=True, quarantine_dir=None, ctx=ctx)
    assert not done.changes
    assert done.message == (
        f"The active set {NEWEST} of csapi is good by structure alone (no catalog or fleet consensus proved its bytes); "
        "nothing to roll back on that evidence. Give a signed catalog (catalog, trusted_keys) or the fleet's consensus "
        "marks (bad_sets) to prove it (set `to` to force a version)."
    )
    assert done.extra["proof"] == "structure"


def test_the_csapi_check_and_the_host_record_name_the_active_sets_proof(lab_factory: Callable[..., Path]) -> None:
    inventory = lone_csapi(lab_factory, "tampered_csapi")
    verification = judge(inventory, "h")
    smsmse_defs: dict[str, Any] = {
        "verification": verification,
        "product": {"self_verifies": True, "version": "6.5.8", "scheme": "6.5", "event_ids": None},
        "stores": {"csapi": {"free_bytes": None}},
        "events": [],
    }
    checks = {c["id"]: c for c in health.checks(smsmse_defs, max_age_days=7, today=TODAY)}
    assert checks["csapi_active_good"]["status"] == "pass"
    assert checks["csapi_active_good"]["actual"] == f"{NEWEST} (good by structure alone)"
    record = health.host_record("h", smsmse_defs=smsmse_defs, checks_=list(checks.values()), actions=[], status="compliant", today=TODAY)
    assert record["versions"]["csapi_proof"] == "structure"


def reported(*records: dict[str, Any]) -> report.Report:
    built = report.build(list(records), run_id="r", started="2026-11-26T00:00:00Z", ended="2026-11-26T00:00:00Z", options={}, history=[])
    assert report.validate(built) == []
    return built


def host(name: str, proof: str | None, active: str = "good", age: int = 1) -> dict[str, Any]:
    """A compliant host whose CSAPI active set has this verdict and proof."""
    title, severity, remediation = health.CHECKS["csapi_active_good"]
    passed = "pass" if active == "good" else "fail"
    check = {"id": "csapi_active_good", "title": title, "severity": severity, "status": passed, "expected": "good",
             "actual": f"20261125.001 ({active})", "remediation": remediation, "detail": ""}  # fmt: skip
    made = health.host_record(name, smsmse_defs=None, checks_=[check], actions=[], status="compliant", today=TODAY)
    made["versions"].update(csapi_active="20261125.001", csapi_proof=proof, age_days=age, product="6.5.8")
    return made


def test_the_console_table_html_and_junit_say_when_the_active_set_is_good_by_structure_alone() -> None:
    built = reported(host("lone", "structure"), host("signed", "catalog"), host("voted", "consensus"))
    table = report_console.table(built)
    assert table[0].split()[:4] == ["host", "status", "csapi", "proof"]
    rows = {line.split()[0]: line.split() for line in table[2:-1]}
    assert rows["lone"][3] == "structure" and rows["signed"][3] == "catalog" and rows["voted"][3] == "consensus"
    html_rows = {r["name"]: r for r in report_html.rows(built)}
    assert html_rows["lone"]["csapi"] == "20261125.001 (good by structure alone)"
    assert html_rows["signed"]["csapi"] == "20261125.001"
    page = report_html.render(built)
    assert "20261125.001 (good by structure alone)" in page
    suites = {s.get("name"): s for s in ET.fromstring(report_junit.render(built).split("\n", 1)[1]).findall("testsuite")}
    properties = {p.get("name"): p.get("value") for p in suites["lone"].iter("property")}
    assert properties["csapi_proof"] == "structure"
    case = next(c for c in suites["lone"].findall("testcase") if c.get("name", "").startswith("csapi_active_good"))
    assert {p.get("name"): p.get("value") for p in case.iter("property")}["proof"] == "structure"


def test_a_corrupt_active_set_is_never_counted_as_a_normal_one() -> None:
    built = reported(host("ok", "catalog"), host("corrupt", "catalog", active="bad", age=9))
    assert {r["name"]: r["csapi"] for r in report_html.rows(built)}["corrupt"] == "20261125.001 (bad)"
    table = {line.split()[0]: line for line in report_console.table(built)[2:-1]}
    assert "20261125.001 (bad)" in table["corrupt"]
    page = report_html.render(built)
    version_chart = page.split('chart-versions"', 1)[1].split("</svg>", 1)[0]
    assert "20261125.001 (bad)" in version_chart
    # the age chart counts only hosts whose active set is good: a bad set's age is no protection
    assert report_html.age_counts(built) == {"0-1 d": 1, "2-3 d": 0, "4-7 d": 0, "8-14 d": 0, "> 14 d": 0, "active set bad": 1}


def test_promote_and_the_decision_say_when_the_newest_good_set_is_good_by_structure_alone(lab_factory: Callable[..., Path]) -> None:
    inventory = lone_csapi(lab_factory)
    stores = store_view.view(probe(inventory, "h"), judge(inventory, "h"))
    stores["smsmse_hawking"] = stores["csapi"]  # a source store that holds the same sets, as promote's source
    done = plan.promote(
        stores, target="csapi", source="smsmse_hawking", version="newest_good", keep=2, ctx=store_view.Context(windows=False)
    )
    assert not done.changes and done.extra["proof"] == "structure"
    unproven = "by structure alone (no catalog or fleet consensus proved its bytes)"
    assert done.message == f"csapi is at {NEWEST}, the newest good set {unproven}; nothing to do."
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide

    decision = decide.decide({"csapi": stores["csapi"]}, {"self_verifies": True, "version": "6.5.8"})
    assert decision.reason == f"CSAPI is at the newest good set {NEWEST} {unproven}"
