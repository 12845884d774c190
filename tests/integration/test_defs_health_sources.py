"""The defs_health role's sources: hosts with no good set and a failing LiveUpdate, healed from distribution points.

From a folder and over HTTPS (Debian's nginx on 127.0.0.1): CSAPI ends at the newest catalogued version, byte for
byte the reference, and the reports say which source fixed each host. A distribution point serving one changed
byte in the newest set never gets it into any store: the host is fixed from the next version. Without a catalog
the run is refused before any host is touched; report mode changes nothing.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook
from .test_defs_import import NEWEST, TODAY, sign_catalog, tree

pytestmark = pytest.mark.integration


@pytest.fixture(params=lab.AGENTS)
def lab_agent(request: pytest.FixtureRequest) -> str:
    """Both agents fetch: the POSIX agent, and the Windows agent's engine under mono."""
    return str(request.param)


def role(inventory: Path, tmp: Path, name: str, mode: str, **extra: Any) -> tuple[Run, dict[str, dict[str, Any]]]:
    reports = tmp / f"reports-{name}"
    run = playbook(f"mailsec.smsmse.{mode}", inventory, tmp / name, extra={"defs_health_report_dir": str(reports), **extra})
    path = reports / "defs-health.json"
    hosts = {h["name"]: h for h in json.loads(path.read_text())["hosts"]} if path.exists() else {}
    return run, hosts


@pytest.fixture
def isolated(lab_factory: Callable[..., Path]) -> Path:
    return lab_factory(
        lab.LabHost("isolated1", faults=["all_corrupt"], liveupdate="fails"),
        lab.LabHost("isolated2", faults=["all_corrupt"], liveupdate="fails"),
    )


def scanner_fixed(record: dict[str, Any]) -> None:
    """CSAPI is healed; what is left failing is the plain Hawking store (SAV/SEP's, not the product's copy source)."""
    checks = {c["id"]: c["status"] for c in record["checks"]}
    assert (checks["csapi_active_good"], checks["csapi_newest"]) == ("fixed", "fixed"), record["message"]
    assert {c for c, status in checks.items() if status == "fail"} <= {"pointers_consistent", "trust_agreement", "hawking_newest_good"}, (
        checks
    )


def only_the_plain_hawking_drifts(run: Run) -> None:
    """Enforce healed the scanner but was not allowed to repair SAV/SEP's Hawking store: the run fails for both hosts."""
    assert run.returncode == 2, run.output[-3000:]
    for name in ("isolated1", "isolated2"):
        assert f"{name} still drifts after enforce: " in run.output, run.output[-3000:]
    assert "hawking holds no good set" in run.output or "defs_health_repair_hawking" in run.output, run.output[-3000:]


def stores_tree(host: Path) -> dict[str, bytes]:
    return {f"{store}/{k}": v for store in lab.STORES for k, v in tree(host / store).items()}


def test_report_mode_plans_and_enforce_heals_from_a_folder(isolated: Path, tmp_path: Path) -> None:
    root = isolated.parent
    trust = sign_catalog(root, tmp_path)
    sources = {"defs_health_sources": ["liveupdate", str(root / "reference")], "defs_health_catalog": trust["catalog_path"]}
    options = {**sources, "defs_health_trusted_keys": trust["trusted_keys"]}
    before = {name: stores_tree(root / "hosts" / name) for name in ("isolated1", "isolated2")}
    run, hosts = role(isolated, tmp_path, "report", "report", **options)
    assert run.returncode == 0, run.output[-3000:]
    assert {name: stores_tree(root / "hosts" / name) for name in before} == before, "report mode changed a host"
    planned = hosts["isolated1"]["actions"][0]
    assert (planned["action"], planned["result"], planned["source"]) == ("liveupdate", "planned", "liveupdate")
    assert f"then, if it yields no good set: {root / 'reference'}" in planned["message"]
    run, hosts = role(isolated, tmp_path, "report-point", "report", **{**options, "defs_health_sources": [str(root / "reference")]})
    planned = hosts["isolated1"]["actions"][0]
    assert (planned["action"], planned["result"], planned["source"]) == ("import", "planned", str(root / "reference"))
    assert planned["version"] == NEWEST, "report mode names the version the distribution point would bring"
    assert f"the newest catalogued set, {NEWEST}, would come from {root / 'reference'}" in planned["message"]
    assert {name: stores_tree(root / "hosts" / name) for name in before} == before, "report mode changed a host"

    run, hosts = role(isolated, tmp_path, "enforce", "enforce", **options)
    only_the_plain_hawking_drifts(run)
    for name in ("isolated1", "isolated2"):
        host, record = root / "hosts" / name, hosts[name]
        scanner_fixed(record)
        assert [(a["action"], a["result"], a.get("source")) for a in record["actions"]][:2] == [
            ("liveupdate", "failed", "liveupdate"),
            ("import", "done", str(root / "reference")),
        ]
        assert f"a good set came from {root / 'reference'}" in record["message"]
        assert tree(host / "csapi" / NEWEST) == tree(root / "reference" / NEWEST)
        assert f"CurDefs={NEWEST}" in (host / "csapi" / "definfo.dat").read_text()
    reports = tmp_path / "reports-enforce"
    assert f"import {NEWEST} from {root / 'reference'} done" in (reports / "defs-health.html").read_text()
    assert f'name="fixed_by" value="{root / "reference"}"' in (reports / "defs-health.junit.xml").read_text()
    assert f'"isolated1": "{root / "reference"}"' in run.output  # set_stats (and defs_report's fixed_by)

    run, hosts = role(isolated, tmp_path, "again", "enforce", **options)
    assert all(not h["actions"] or h["actions"][0]["action"] != "import" for h in hosts.values()), "a second run imported again"


def test_one_changed_byte_falls_back_to_the_next_version(isolated: Path, tmp_path: Path) -> None:
    root = isolated.parent
    trust = sign_catalog(root, tmp_path)
    point = tmp_path / "point"
    shutil.copytree(root / "reference", point)
    lab.tamper_keep_mtime(point / NEWEST / "virscan1.dat")
    previous = lab.set_versions(TODAY, lab.LabHost("x").sets)[-1]
    options = {
        "defs_health_sources": [str(point)],
        "defs_health_catalog": trust["catalog_path"],
        "defs_health_trusted_keys": trust["trusted_keys"],
    }
    run, hosts = role(isolated, tmp_path, "enforce", "enforce", **options)
    only_the_plain_hawking_drifts(run)
    for name in ("isolated1", "isolated2"):
        host, record = root / "hosts" / name, hosts[name]
        scanner_fixed(record)
        tried = [(a["action"], a["result"], a["version"]) for a in record["actions"]][:2]
        assert tried == [("import", "failed", NEWEST), ("import", "done", previous)]
        assert "SOURCE_MISMATCH" in record["actions"][0]["message"]
        for store in lab.STORES:
            assert not (host / store / NEWEST).exists(), f"a copy of the refused set is in {store}"
            assert not [p for p in (host / store).iterdir() if p.name.startswith(".smsmse-")], store
        assert tree(host / "csapi" / previous) == tree(root / "reference" / previous)


def test_without_a_catalog_nothing_is_touched(isolated: Path, tmp_path: Path) -> None:
    root = isolated.parent
    before = {name: stores_tree(root / "hosts" / name) for name in ("isolated1", "isolated2")}
    run, _hosts = role(isolated, tmp_path, "no-catalog", "enforce", defs_health_sources=[str(root / "reference")])
    assert run.returncode != 0
    assert "CATALOG_REQUIRED" in run.output and "defs_health_catalog" in run.output
    assert run.agent_calls() == 0
    assert {name: stores_tree(root / "hosts" / name) for name in before} == before


def test_heals_over_https_from_nginx(isolated: Path, tmp_path: Path, https_distpoint: Callable[..., Any]) -> None:
    root = isolated.parent
    trust = sign_catalog(root, tmp_path)
    server = https_distpoint(root / "reference")
    options = {
        "defs_health_sources": ["liveupdate", server.url],
        "defs_health_catalog": trust["catalog_path"],
        "defs_health_trusted_keys": trust["trusted_keys"],
        "defs_health_source_ca_path": str(server.pki.ca),
        "defs_health_repair_hawking": True,  # the plain Hawking store gets the set too, copied from the fetched one
    }
    run, hosts = role(isolated, tmp_path, "enforce", "enforce", **options)
    assert run.returncode == 0, run.output[-3000:]
    for name in ("isolated1", "isolated2"):
        record = hosts[name]
        assert record["status"] == "fixed", record["message"]
        assert record["actions"][1]["source"] == server.url
        for store in lab.STORES:
            assert tree(root / "hosts" / name / store / NEWEST) == tree(root / "reference" / NEWEST), store
    assert sum(1 for line in (server.prefix / "access.log").read_text().splitlines() if f"/{NEWEST}/zdone.dat" in line) == 2, (
        "each host fetched the set once"
    )
