"""The product emulator: SMSMSE's copy cycle on lab hosts, version by version, and racing our changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab, lab_product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

from . import lab_change

TODAY = dt.datetime.now(dt.timezone.utc).date()
VERSIONS = lab.set_versions(TODAY, 3)


def host(tmp_path: Path, *faults: str, version: str = "6.5.8", liveupdate: str | None = "works") -> lab_product.ProductHost:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("h", version=version, faults=list(faults), liveupdate=liveupdate)])
    return lab_product.read_hosts(inventory)["h"]


def events(spec: lab_product.ProductHost) -> list[int]:
    """Ids of the events the emulator wrote (the lab's own two come first)."""
    return [json.loads(line)["id"] for line in Path(spec.events_file).read_text().splitlines()][2:]


def csapi(spec: lab_product.ProductHost) -> Path:
    return Path(spec.stores["csapi"])


@pytest.mark.parametrize("version", ["6.5.8", "6.0.14", "6.0.10"])
def test_copies_a_newer_source_set_and_writes_25(tmp_path: Path, version: str) -> None:
    spec = host(tmp_path, "stale_csapi", version=version)
    assert lab_product.Emulator(spec).cycle() == f"installed {VERSIONS[-1]}"
    assert lab_product.active(csapi(spec)) == VERSIONS[-1]
    assert lab_product.is_good(csapi(spec) / VERSIONS[-1], VERSIONS[-1])
    assert b"[Lab]" in (csapi(spec) / "definfo.dat").read_bytes(), "the other sections of definfo.dat survive"
    assert events(spec) == [25]
    assert lab_product.Emulator(spec).cycle() == "idle"
    assert not [p for p in csapi(spec).iterdir() if p.name.startswith(lab_product.TEMP_PREFIX)]


@pytest.mark.parametrize(("version", "event"), [("6.5.8", 399), ("6.5.1", 399), ("6.0.14", 393), ("6.0.12", 393)])
def test_self_verifying_versions_use_the_previous_good_set(tmp_path: Path, version: str, event: int) -> None:
    spec = host(tmp_path, "stale_csapi", "corrupt_newest", version=version)
    assert lab_product.Emulator(spec).cycle() == f"installed {VERSIONS[-2]}"
    assert lab_product.active(csapi(spec)) == VERSIONS[-2]
    assert not (csapi(spec) / VERSIONS[-1]).exists()
    assert events(spec) == [event]


@pytest.mark.parametrize("version", ["6.5.0", "6.0.11", "6.0.10"])
def test_older_versions_copy_blindly(tmp_path: Path, version: str) -> None:
    spec = host(tmp_path, "stale_csapi", "corrupt_newest", version=version)
    assert lab_product.Emulator(spec).cycle() == f"installed {VERSIONS[-1]}"
    assert lab_product.active(csapi(spec)) == VERSIONS[-1]
    assert not lab_product.is_good(csapi(spec) / VERSIONS[-1], VERSIONS[-1]), "the corrupt set is now in use"
    assert events(spec) == [25]


@pytest.mark.parametrize(("version", "events_seen"), [("6.5.8", [400, 25]), ("6.0.14", [394, 25])])
def test_nothing_good_runs_liveupdate(tmp_path: Path, version: str, events_seen: list[int]) -> None:
    spec = host(tmp_path, "all_corrupt", version=version)
    assert lab_product.Emulator(spec).cycle() == f"installed {lab.liveupdate_version(TODAY)}"
    assert events(spec)[:1] + events(spec)[-1:] == events_seen  # LiveUpdate itself logs 30 in between
    assert lab_product.is_good(csapi(spec) / lab.liveupdate_version(TODAY), lab.liveupdate_version(TODAY))


@pytest.mark.parametrize(("version", "events_seen"), [("6.5.8", [400, 401]), ("6.0.14", [394, 395])])
def test_liveupdate_failing_gives_up_once(tmp_path: Path, version: str, events_seen: list[int]) -> None:
    spec = host(tmp_path, "all_corrupt", version=version, liveupdate="fails")
    emulator = lab_product.Emulator(spec)
    assert emulator.cycle() == "init_failed"
    assert emulator.cycle() == "init_failed"
    assert events(spec) == events_seen, "a condition is logged once, not every cycle"


@pytest.mark.parametrize("version", ["6.0.10", "6.5.8"])
def test_continuous_mode_copies_again_whenever_the_folder_csapi_names_is_gone(tmp_path: Path, version: str) -> None:
    """Race mode: not only a newer set; a pointer to a folder that is gone is repaired at once, never by a downgrade."""
    spec = host(tmp_path, version=version)
    product = lab_product.Emulator(spec, continuous=True)
    newest = VERSIONS[-1]
    assert product.cycle() == "idle", "CSAPI is at the product's set"
    os.rename(csapi(spec) / newest, tmp_path / "gone")
    assert lab_product.Emulator(spec).cycle() == "idle", "the ordinary cycle waits for a newer set"
    assert product.cycle() == f"installed {newest}"
    assert lab_product.active(csapi(spec)) == newest and lab_product.is_good(csapi(spec) / newest, newest)
    ahead = (TODAY + dt.timedelta(days=1)).strftime("%Y%m%d") + ".001"
    lab.write_set(csapi(spec), ahead)
    lab_product.point(csapi(spec), ahead)
    assert product.cycle() == "idle", "a set older than CSAPI's is never put in use"
    command = lab_product.command(tmp_path / "inventory.yml", "h", 0.005, continuous=True)
    assert command[-1] == "--continuous"


@pytest.mark.parametrize(("version", "event"), [("8.0.1", [401]), ("7.5.2", [401]), ("6.0.14", [395]), ("6.0.10", [395]), ("5.0.10", [])])
def test_a_usage_dat_naming_a_missing_set_stops_the_product(tmp_path: Path, version: str, event: list[int]) -> None:
    spec = host(tmp_path, "stale_usage", "stale_csapi", version=version)
    emulator = lab_product.Emulator(spec)
    assert spec.missing_usage() == [f"hawking: {lab.missing_usage_set(VERSIONS)}"]
    assert emulator.cycle() == "usage_missing" and emulator.cycle() == "usage_missing"
    assert events(spec) == event  # once, not every cycle
    assert lab_product.active(csapi(spec)) == VERSIONS[0]  # nothing copied while it cannot start
    hawking = Path(spec.stores["hawking"])
    lab.write_usage(hawking, [(VERSIONS[0], lab.OTHER_CODE), (VERSIONS[-1], lab.SMSMSE_CODE)])  # the vendor's fix
    assert emulator.cycle() != "usage_missing"
    assert lab_product.active(csapi(spec)) == VERSIONS[-1]


def test_another_product_s_stale_entry_does_not_stop_smsmse(tmp_path: Path) -> None:
    spec = host(tmp_path)
    lab.write_usage(Path(spec.stores["hawking"]), [("20000101.001", lab.OTHER_CODE), (VERSIONS[-1], lab.SMSMSE_CODE)])
    assert spec.missing_usage() == []
    assert lab_product.Emulator(spec).cycle() != "usage_missing"


def test_the_product_ignores_our_lock(tmp_path: Path) -> None:
    spec = host(tmp_path, "stale_csapi")
    (csapi(spec) / contract.wire()["lock"]).write_text(json.dumps({"pid": os.getpid(), "host": "x", "created": time.time(), "token": "t"}))
    assert lab_product.Emulator(spec).cycle() == f"installed {VERSIONS[-1]}"


def test_processes_start_and_stop(tmp_path: Path) -> None:
    inventory = lab.build_lab(tmp_path / "lab", [lab.LabHost("a", faults=["stale_csapi"]), lab.LabHost("b", faults=["stale_csapi"])])
    processes = lab_product.start(inventory, period=0.1)
    try:
        deadline = time.monotonic() + 30
        stores = [tmp_path / "lab" / "hosts" / name / "csapi" for name in ("a", "b")]
        while time.monotonic() < deadline and any(lab_product.active(s) != VERSIONS[-1] for s in stores):
            time.sleep(0.1)
        assert [lab_product.active(s) for s in stores] == [VERSIONS[-1]] * 2
    finally:
        lab_product.stop(processes)
    assert all(p.returncode is not None for p in processes.values())


# --- racing: the emulator, a LiveUpdate and our promote (probe, plan, apply) on one host, watched ---


def _publish(source: Path, version: str) -> None:
    """LiveUpdate's delivery of a new set: written aside, renamed in, then the store's pointer."""
    temp = source / f"lu-{version}"
    lab.write_set(temp.parent / temp.name, version)
    os.rename(temp / version, source / version)
    os.rmdir(temp)
    lab.write_definfo(source, version)


#: what our promote says when the product changed the store between our probe and our change
RACED = {"CHANGE_CONFLICT", "STORE_UNREADABLE"}


def settle(results: list[tuple[str, str]], store: Path, newest: str) -> None:
    """Wait for the fleet to settle: the copy job (or our promote) brings the newest set in, and our promote has tried
    a few times. On a loaded machine that takes longer than on a quiet one, so it is waited for, up to 30 s."""
    ends = time.monotonic() + 30
    time.sleep(0.3)
    while time.monotonic() < ends and (len(results) < 3 or lab_product.active(store) != newest):
        time.sleep(0.05)


def test_no_store_ever_holds_a_mixed_set(tmp_path: Path) -> None:
    spec = host(tmp_path, "stale_csapi")
    store, source = csapi(spec), spec.source()
    stop = threading.Event()
    emulator = threading.Thread(target=lab_product.Emulator(spec, period=0.01).run, args=(stop,))
    seen: list[str] = []
    mixed: list[str] = []
    missing: list[str] = []
    results: list[tuple[str, str]] = []  # (code or "done", message)

    def watch() -> None:
        while not stop.is_set():
            before = (store / "definfo.dat").read_bytes()
            version = parse_definfo(before).cur_defs
            assert version is not None
            exists = (store / version).is_dir()
            good = lab_product.is_good(store / version, version)
            if (store / "definfo.dat").read_bytes() != before or exists != (store / version).is_dir():
                continue  # moved on while we looked: sample again
            seen.append(version)
            if not exists:
                missing.append(version)  # the discard-then-rename window: test_pointer_never_names_a_missing_folder
            elif not good:
                listing = sorted(p.name for p in (store / version).iterdir())
                mixed.append(f"definfo.dat names {version}, which is not a complete set with the lab's bytes: {listing}")

    def ours() -> None:
        while not stop.is_set():
            try:
                the_plan = lab_change.promote(tmp_path / "lab" / "inventory.yml", "h")
            except SmsmseError as exc:  # the probe saw a moment the plan cannot use (a set being renamed in)
                results.append((exc.code, str(exc)))
                continue
            if the_plan.changes:
                done = lab_change.carry(the_plan)
                results.append(((done["error"] or {}).get("code") or "done", str((done["error"] or {}).get("message", ""))))

    watcher = threading.Thread(target=watch)
    changer = threading.Thread(target=ours)
    for thread in (emulator, watcher, changer):
        thread.start()
    try:
        day = TODAY + dt.timedelta(days=1)
        for revision in range(1, 25):
            version = f"{day:%Y%m%d}.{revision:03d}"
            for name in ("hawking", "smsmse_hawking"):
                _publish(Path(spec.stores[name]), version)
            time.sleep(0.05)
        settle(results, store, lab_product.set_versions(source)[-1])
    finally:
        stop.set()
        for thread in (emulator, watcher, changer):
            thread.join(30)
    assert mixed == [], "\n".join(mixed)
    assert len(set(seen)) > 5, f"the watcher saw too few sets to mean anything: {sorted(set(seen))}"
    # our promote raced the product: each try either went through or saw the product move first and said so, never a
    # change of unknown outcome nor a failure (which one wins how often depends on the machine's load)
    assert len(results) >= 3 and {code for code, _message in results} <= {"done", *RACED}, "\n".join(f"{c}: {m}" for c, m in results if m)
    assert lab_product.active(store) == lab_product.set_versions(source)[-1]


def test_pointer_never_names_a_missing_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The product (6.0.10: it points blindly) acts between our compare-and-swap and our replacing a damaged folder."""
    spec = host(tmp_path, "stale_csapi", version="6.0.10")
    store, source = csapi(spec), Path(spec.stores["smsmse_hawking"])
    lab_product.copy_set(source / VERSIONS[-1], store, VERSIONS[-1])
    (store / VERSIONS[-1] / "v.grd").write_bytes(b"damaged")
    the_plan = lab_change.promote(tmp_path / "lab" / "inventory.yml", "h")
    assert [s["op"] for s in the_plan.steps if s["op"] in ("exchange", "rename", "retire")] == ["exchange", "retire"], (
        "the damaged folder is swapped with the good copy, then retired"
    )
    instants: list[str | None] = []
    retire = apply.PRIMITIVES["retire"]

    def product_acts_then_retire(ctx: Any, where: str, args: dict[str, Any]) -> dict[str, Any]:
        lab_product.Emulator(spec).cycle()
        done = retire(ctx, where, args)
        named = lab_product.active(store)
        instants.append(named if named and not (store / named).is_dir() else None)
        return done

    monkeypatch.setitem(apply.PRIMITIVES, "retire", product_acts_then_retire)
    lab_change.carry(the_plan)
    assert instants, "the race was not reached"
    assert instants == [None], f"definfo.dat named the missing folder {instants}"


@pytest.mark.parametrize(
    "hostvars",
    [
        {"smsmse_defs_stores": "/tmp/lab/h", "smsmse_defs_product": {"version": "6.5.8"}},
        {"smsmse_defs_stores": {"csapi": "/tmp/lab/h/csapi"}, "smsmse_defs_product": "6.5.8"},
        {"smsmse_defs_stores": {}, "smsmse_defs_product": {"version": "6.5.8"}, "smsmse_defs_liveupdate_command": "lu.sh"},
    ],
)
def test_a_host_that_is_not_the_labs_is_refused_by_name(hostvars: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="mail01 is not a host of a lab inventory"):
        lab_product.ProductHost.from_hostvars("mail01", {**hostvars, "smsmse_defs_events_file": "/tmp/lab/events.jsonl"})


def test_a_lab_host_is_read_from_its_variables() -> None:
    hostvars: dict[str, object] = {
        "smsmse_defs_stores": {"hawking": "/lab/h/hawking", "csapi": "/lab/h/csapi"},
        "smsmse_defs_product": {"version": "6.5.8"},
        "smsmse_defs_events_file": "/lab/h/events.jsonl",
        "smsmse_defs_liveupdate_command": ["/lab/lu.sh", 3],
    }
    host = lab_product.ProductHost.from_hostvars("h", hostvars)
    assert (host.stores, host.version, host.events_file, host.liveupdate) == (
        {"hawking": "/lab/h/hawking", "csapi": "/lab/h/csapi"},
        "6.5.8",
        "/lab/h/events.jsonl",
        ["/lab/lu.sh", "3"],
    )
