"""Our changes against the product's own copy cycle (the lab's product emulator) on lab hosts."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product

from .runner import playbook

pytestmark = pytest.mark.integration
PLAYBOOK = str(Path(__file__).parent / "playbooks" / "product_race.yml")
TODAY = dt.datetime.now(dt.timezone.utc).date()
VERSIONS = lab.set_versions(TODAY, 3)


def cycle(inventory: Path, host: str) -> list[str]:
    return [*lab_product.command(inventory, host, 0.1), "--cycles", "1"]


def liveupdate(inventory: Path, host: str) -> list[str]:
    hostvars: dict[str, Any] = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    return list(hostvars["smsmse_defs_liveupdate_command"])


@pytest.mark.parametrize(
    ("change", "faults", "with_liveupdate"),
    [("promote", ["stale_csapi"], False), ("rollback", ["corrupt_active_csapi"], True)],
)
def test_compare_and_swap_detects_the_products_copy(tmp_path: Path, change: str, faults: list[str], with_liveupdate: bool) -> None:
    """A change planned before the product rewrites definfo.dat is refused; the same change on a quiet host is made."""
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost(name, faults=list(faults), liveupdate="works") for name in ("raced", "quiet")])
    acts = {"raced": ([liveupdate(inventory, "raced")] if with_liveupdate else []) + [cycle(inventory, "raced")]}
    csapi = tmp_path / "lab" / "hosts" / "raced" / "csapi"
    # a rollback names its version: the lab's flipped byte is not caught without a catalog (issue "Healthy means proven")
    options = {"to": VERSIONS[-2]} if change == "rollback" else {}
    extra = {"change": change, "lab_dir": str(tmp_path / "lab"), "product_acts": acts, "module_options": options}
    run = playbook(PLAYBOOK, inventory, tmp_path, extra=extra)
    assert run.returncode == 0, run.output[-3000:]
    raced, quiet = run.results["raced"], run.results["quiet"]
    assert quiet["changed"] is True and not quiet.get("failed"), quiet
    assert raced.get("failed") is True and raced["msg"].startswith("CHANGE_CONFLICT: Nothing was changed"), raced
    newest = lab.liveupdate_version(TODAY) if with_liveupdate else VERSIONS[-1]
    assert lab_product.active(csapi) == newest, "the product's change stands"
    assert lab_product.is_good(csapi / newest, newest)


def _csapi_state(lab_dir: Path, names: list[str]) -> dict[str, str]:
    """Each host's CSAPI active version, and whether it is good with the lab's bytes."""
    found = {}
    for name in names:
        csapi = lab_dir / "hosts" / name / "csapi"
        version = lab_product.active(csapi)
        found[name] = f"{version} {'good' if version and lab_product.is_good(csapi / version, version) else 'BAD'}"
    return found


def converge(tmp_path: Path, hosts: list[lab.LabHost], runs: int, emulators: Callable[..., Any]) -> tuple[dict[str, str], str]:
    """Enforce up to ``runs`` times while every host's product runs its copy cycle; the CSAPI states at the end."""
    lab_dir = tmp_path / "lab"
    inventory = lab.build_lab(lab_dir, hosts, group_vars={"defs_health_report_dir": str(lab_dir / "reports")})
    names = [h.name for h in hosts]
    emulators(inventory, period=0.2)
    output = ""
    for attempt in range(runs):
        run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / f"run{attempt}")
        output = run.output
        time.sleep(2)  # several product cycles: what the product copies next counts too
        state = _csapi_state(lab_dir, names)
        if all(s.endswith(" good") for s in state.values()):
            break
    return state, output


def test_fleet_converges_to_good_sets_with_the_product_running(tmp_path: Path, product_emulators: Callable[..., Any]) -> None:
    """Self-verifying products and enforce together: every CSAPI ends on a good set."""
    hosts = [
        lab.LabHost("fresh", liveupdate="works"),
        lab.LabHost("stale", version="6.0.14", faults=["stale_csapi"], liveupdate="works"),
        lab.LabHost("newest_bad", faults=["stale_csapi", "corrupt_newest"], liveupdate="works"),
        lab.LabHost("active_bad", version="6.0.14", faults=["corrupt_active_csapi"], liveupdate="works"),
        lab.LabHost("all_bad", faults=["all_corrupt"], liveupdate="works"),
    ]
    state, output = converge(tmp_path, hosts, runs=3, emulators=product_emulators)
    assert all(s.endswith(" good") for s in state.values()), f"{state}\n{output[-3000:]}"


def test_blind_products_converge_once_enforce_quarantines_the_source(tmp_path: Path, product_emulators: Callable[..., Any]) -> None:
    """A product that does not verify (6.0.10, 6.5.0) copies the corrupt newest source set into CSAPI after every repair,
    until enforce moves that set out of the source store (issue 9, rule 4)."""
    hosts = [
        *(lab.LabHost(f"fresh{i}", liveupdate="works") for i in range(3)),  # their copies outvote the corrupt ones
        lab.LabHost("blind_60", version="6.0.10", faults=["stale_csapi", "corrupt_newest"], liveupdate="works"),
        lab.LabHost("blind_65", version="6.5.0", faults=["stale_csapi", "corrupt_newest"], liveupdate="works"),
    ]
    state, output = converge(tmp_path, hosts, runs=3, emulators=product_emulators)
    assert all(s.endswith(" good") for s in state.values()), f"{state}\n{output[-3000:]}"


def test_a_blind_product_copying_every_few_ms_never_makes_enforce_lie(tmp_path: Path, product_emulators: Callable[..., Any]) -> None:
    """Issue 21's race: non-verifying products (6.0.10, 6.5.0) copy their newest set into CSAPI every 5 ms all through
    enforce. No host is reported fixed or compliant, nor its active set good, unless its CSAPI names a complete, true
    set (the one reported), and CSAPI never names a folder that is not there."""
    hosts = [
        *(lab.LabHost(f"fresh{i}", liveupdate="works") for i in range(5)),  # their copies outvote the corrupt ones
        *(lab.LabHost(f"blind_60_{i}", version="6.0.10", faults=["stale_csapi", "corrupt_newest"], liveupdate="works") for i in range(2)),
        lab.LabHost("blind_65", version="6.5.0", faults=["corrupt_newest"], liveupdate="works"),
    ]
    lab_dir = tmp_path / "lab"
    inventory = lab.build_lab(lab_dir, hosts, group_vars={"defs_health_report_dir": str(lab_dir / "reports")})
    blind = [h.name for h in hosts if h.name.startswith("blind")]
    product_emulators(inventory, hosts=blind, period=0.005, continuous=True)
    statuses = []
    for attempt in range(3):
        run = playbook("mailsec.smsmse.enforce", inventory, tmp_path / f"run{attempt}")
        reported = {h["name"]: h for h in json.loads((lab_dir / "reports" / "defs-health.json").read_text())["hosts"]}
        assert set(reported) == {h.name for h in hosts}, run.output[-3000:]
        state = _csapi_state(lab_dir, blind)
        for name in blind:
            csapi = lab_dir / "hosts" / name / "csapi"
            active = lab_product.active(csapi)
            assert active is not None and (csapi / active).is_dir(), f"{name}: CSAPI names {active}, which is not there"
            said = {c["id"]: c["status"] for c in reported[name]["checks"]}.get("csapi_active_good")
            if reported[name]["status"] in ("fixed", "compliant") or said in ("pass", "fixed"):
                claim = f"{reported[name]['status']}, csapi_active_good {said}"
                assert state[name].endswith(" good"), f"run {attempt}: {name} reported {claim} at {state[name]}"
                shown = reported[name]["versions"]["csapi_active"]
                assert shown is not None and lab_product.is_good(csapi / shown, shown), f"{name} reported {shown} as its active set"
        statuses.append({name: reported[name]["status"] for name in blind})
    assert all(s.endswith(" good") for s in _csapi_state(lab_dir, blind).values()), statuses
