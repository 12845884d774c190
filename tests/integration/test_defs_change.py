"""defs_promote and defs_rollback on lab hosts: check mode, the real run, and the rerun."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import Run, playbook

pytestmark = pytest.mark.integration
PLAYBOOK = str(Path(__file__).parent / "playbooks" / "change.yml")
#: no catalog and no fleet vote in these runs: a good set is good by structure alone, and the messages say so
UNPROVEN = " by structure alone (no catalog or fleet consensus proved its bytes)"
TO_PROVE = (
    "Give a signed catalog (catalog, trusted_keys) or the fleet's consensus marks (bad_sets) to prove it (set `to` to force a version)."
)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if "cache" in path.relative_to(root).parts:
            continue
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def run(inventory: Path, tmp: Path, change: str, *args: str, **options: Any) -> Run:
    extra = {"change": change, "lab_dir": str(inventory.parent), "module_options": options}
    return playbook(PLAYBOOK, inventory, tmp, *args, extra=extra)


def active(inventory: Path, host: str, store: str = "csapi") -> str | None:
    return parse_definfo((inventory.parent / "hosts" / host / store / "definfo.dat").read_bytes()).cur_defs


def sets(inventory: Path, host: str, store: str = "csapi") -> list[str]:
    return sorted(p.name for p in (inventory.parent / "hosts" / host / store).iterdir() if p.is_dir())


@pytest.fixture
def versions() -> list[str]:
    import datetime as dt

    return lab.set_versions(dt.datetime.now(dt.timezone.utc).date(), 3)


def test_promote_check_real_rerun(lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str]) -> None:
    inventory = lab_factory(
        lab.LabHost("healthy"), lab.LabHost("stale", faults=["stale_csapi"]), lab.LabHost("broken", faults=["malformed_definfo"])
    )
    hosts = inventory.parent / "hosts"
    before = tree_digest(hosts)

    checked = run(inventory, tmp_path / "check", "promote", "--check", "--diff")
    assert checked.returncode == 0, checked.output[-3000:]
    assert tree_digest(hosts) == before, "check mode changed the lab"
    assert checked.results["stale"]["changed"] is True
    assert checked.results["stale"]["msg"] == f"csapi: {versions[0]} -> {versions[-1]} from smsmse_hawking"
    assert f"-CurDefs={versions[0]}" in checked.output and f"+CurDefs={versions[-1]}" in checked.output
    assert f"+{versions[-1]}" in checked.output  # the sets of the store, before and after
    assert f"--- before: {hosts / 'stale' / 'csapi' / 'definfo.dat'}" in checked.output  # the header names the file
    assert checked.results["healthy"] == {
        **checked.results["healthy"],
        "changed": False,
        "msg": f"csapi is at {versions[-1]}, the newest good set{UNPROVEN}; nothing to do.",
        "proof": "structure",
    }
    assert checked.agent_calls("stale") == 1 and checked.agent_calls("healthy") == 1

    real = run(inventory, tmp_path / "real", "promote")
    assert real.returncode == 0, real.output[-3000:]
    stale = real.results["stale"]
    assert (stale["changed"], stale["version"], stale["previous"], stale["store"]) == (True, versions[-1], versions[0], "csapi")
    assert stale["installed"] is True and stale["bytes_copied"] > 0 and stale["removed"] == []
    assert active(inventory, "stale") == versions[-1]
    assert sets(inventory, "stale") == [versions[0], versions[-1]]
    assert real.agent_calls("stale") == 2 and real.agent_calls("healthy") == 1
    assert real.results["broken"]["changed"] is True
    assert active(inventory, "broken") == versions[-1]
    events = [json.loads(line) for line in (hosts / "stale" / "events.jsonl").read_text().splitlines()]
    assert events[-1]["id"] == 1000 and events[-1]["source"] == "mailsec.smsmse"
    assert (
        events[-1]["message"]
        == f"mailsec.smsmse promoted virus definitions {versions[-1]} into csapi ({hosts / 'stale' / 'csapi'}); previous: {versions[0]}."
    )

    settled = tree_digest(hosts)
    again = run(inventory, tmp_path / "again", "promote")
    assert again.returncode == 0
    for host in ("healthy", "stale", "broken"):
        assert again.results[host]["changed"] is False, host
        assert again.results[host]["msg"] == f"csapi is at {versions[-1]}, the newest good set{UNPROVEN}; nothing to do."
        assert again.agent_calls(host) == 1
    assert tree_digest(hosts) == settled


def test_promote_refusals(lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("h"), lab.LabHost("nomarker", faults=["missing_marker"]))
    hosts = inventory.parent / "hosts"
    before = tree_digest(hosts)
    missing = run(inventory, tmp_path / "a", "promote", version="20200101.001")
    assert missing.results["h"]["error"]["code"] == "VERSION_NOT_FOUND"
    assert missing.results["h"]["msg"].startswith("VERSION_NOT_FOUND: The smsmse_hawking store does not hold 20200101.001.")
    down = run(inventory, tmp_path / "b", "promote", version=versions[0])
    assert down.results["h"]["error"]["code"] == "DOWNGRADE_REFUSED"
    bad = run(inventory, tmp_path / "c", "promote", version=versions[-1], source="smsmse_hawking")
    assert bad.results["nomarker"]["error"]["code"] == "SET_NOT_GOOD"
    assert "has no zdone.dat" in bad.results["nomarker"]["msg"]
    silly = run(inventory, tmp_path / "d", "promote", version="latest")
    assert (
        silly.results["h"]["msg"]
        == "OPTION_INVALID: `version` is 'latest': use newest_good or YYYYMMDD.RRR. Fix: " + silly.results["h"]["msg"].split("Fix: ")[1]
    )
    for attempt in (missing, down, bad, silly):
        assert attempt.agent_calls() <= 2  # one probe per host at most; nothing changed
    assert tree_digest(hosts) == before


def test_promote_retention_keeps_active_and_previous(lab_factory: Callable[..., Path], tmp_path: Path) -> None:
    import datetime as dt

    today = dt.datetime.now(dt.timezone.utc).date()
    inventory = lab_factory(lab.LabHost("h", sets=5, csapi_sets=4))
    all_versions = lab.set_versions(today, 5)
    hawking = inventory.parent / "hosts" / "h" / "hawking"
    newer = f"{today:%Y%m%d}.009"
    lab.write_set(hawking, newer)
    lab.write_definfo(hawking, newer)
    result = run(inventory, tmp_path, "promote", keep=2).results["h"]
    assert result["changed"] is True
    assert sorted(result["removed"]) == all_versions[1:4]
    assert sets(inventory, "h") == [all_versions[-1], newer]


def test_rollback_check_real_rerun_and_quarantine(lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str]) -> None:
    inventory = lab_factory(lab.LabHost("corrupt", faults=["corrupt_active_csapi"]), lab.LabHost("healthy"))
    hosts = inventory.parent / "hosts"
    (hosts / "corrupt" / "csapi" / versions[-1] / "virscan1.dat").write_bytes(b"")  # a structural fault, seen without a catalog
    before = tree_digest(hosts)

    checked = run(inventory, tmp_path / "check", "rollback", "--check", "--diff", quarantine=True)
    assert checked.returncode == 0, checked.output[-3000:]
    assert tree_digest(hosts) == before
    assert checked.results["corrupt"]["changed"] is True
    assert checked.results["corrupt"]["msg"] == f"csapi: {versions[-1]} -> {versions[-2]}; quarantined {versions[-1]}"
    assert checked.results["corrupt"]["downgrade"] is False
    assert checked.results["healthy"]["changed"] is False
    assert (
        checked.results["healthy"]["msg"]
        == f"The active set {versions[-1]} of csapi is good{UNPROVEN}; nothing to roll back on that evidence. {TO_PROVE}"
    )

    real = run(inventory, tmp_path / "real", "rollback", quarantine=True)
    corrupt = real.results["corrupt"]
    assert (corrupt["changed"], corrupt["version"], corrupt["previous"]) == (True, versions[-2], versions[-1])
    assert active(inventory, "corrupt") == versions[-2]
    (moved,) = corrupt["quarantined"]
    assert Path(moved).parent == hosts / "corrupt" / "mailsec-smsmse-quarantine"
    assert (Path(moved) / "virscan1.dat").read_bytes() == b""
    assert sets(inventory, "corrupt") == [versions[-2]]
    assert real.agent_calls("corrupt") == 2 and real.agent_calls("healthy") == 1
    events = [json.loads(line)["id"] for line in (hosts / "corrupt" / "events.jsonl").read_text().splitlines()]
    assert events[-2:] == [1001, 1003]

    again = run(inventory, tmp_path / "again", "rollback", quarantine=True)
    assert again.results["corrupt"]["changed"] is False
    assert (
        again.results["corrupt"]["msg"]
        == f"The active set {versions[-2]} of csapi is good{UNPROVEN}; nothing to roll back on that evidence. {TO_PROVE}"
    )


def test_rollback_to_an_explicit_version_is_a_recorded_downgrade(
    lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str]
) -> None:
    inventory = lab_factory(lab.LabHost("h"))
    result = run(inventory, tmp_path / "a", "rollback", to=versions[-2]).results["h"]
    assert (result["changed"], result["downgrade"], result["version"]) == (True, True, versions[-2])
    assert result["msg"] == f"csapi: {versions[-1]} -> {versions[-2]} (a downgrade below the newest good set)"
    event = json.loads((inventory.parent / "hosts" / "h" / "events.jsonl").read_text().splitlines()[-1])
    assert event["id"] == 1002 and "a recorded downgrade" in event["message"]
    again = run(inventory, tmp_path / "b", "rollback", to=versions[-2]).results["h"]
    assert again["changed"] is False and again["msg"] == f"csapi already points at {versions[-2]}."
    missing = run(inventory, tmp_path / "c", "rollback", to="20200101.001").results["h"]
    assert missing["error"]["code"] == "VERSION_NOT_FOUND"


def test_promote_fails_when_the_scanner_does_not_start_again(
    lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str], lab_agent: str
) -> None:
    inventory = lab_factory(lab.LabHost("h", faults=["stale_csapi"]))
    lost = inventory.parent / "no-such-folder" / "events.jsonl"
    result = run(
        inventory,
        tmp_path,
        "promote",
        restart_service=True,
        restart_command=["/bin/sh", "-c", "echo scanner failed to start; exit 3"],
        events_file=str(lost),
    ).results["h"]
    assert active(inventory, "h") == versions[-1]
    assert (result["changed"], result["failed"], result["installed"]) == (True, True, True)
    assert result["error"]["code"] == "SERVICE_NOT_RESTARTED"
    assert result["msg"].startswith("SERVICE_NOT_RESTARTED: The change was made (stage ")
    assert "but the restart command (/bin/sh -c 'echo scanner failed to start; exit 3') did not start the scanner again" in result["msg"]
    # the event that could not be written is a warning naming its file, in the words of the agent's runtime
    because = {"posix": "ENOENT", "windows": "Could not find a part of the path"}[lab_agent]
    assert any(str(lost) in w and because in w for w in result["warnings"]), result["warnings"]


def test_a_downgrade_to_a_version_only_the_source_store_holds_has_a_documented_path(
    lab_factory: Callable[..., Path], tmp_path: Path, versions: list[str]
) -> None:
    """CSAPI holds the two newest sets; the oldest is only in the Hawking stores. Rollback and plain promote say how."""
    inventory = lab_factory(lab.LabHost("h"))
    oldest = versions[0]
    assert oldest not in sets(inventory, "h") and active(inventory, "h") == versions[-1]

    refused = run(inventory, tmp_path / "rollback", "rollback", to=oldest).results["h"]
    assert refused["failed"] and refused["error"]["code"] == "VERSION_NOT_FOUND"
    assert "defs_promote with `version` and `allow_downgrade: true`" in refused["msg"]
    refused = run(inventory, tmp_path / "promote", "promote", version=oldest).results["h"]
    assert refused["failed"] and refused["error"]["code"] == "DOWNGRADE_REFUSED"
    assert "`allow_downgrade: true`" in refused["msg"]
    assert active(inventory, "h") == versions[-1]

    done = run(inventory, tmp_path / "down", "promote", version=oldest, allow_downgrade=True).results["h"]
    assert not done.get("failed"), done.get("msg")
    assert done["changed"] is True and done["downgrade"] is True and done["version"] == oldest and done["previous"] == versions[-1]
    assert active(inventory, "h") == oldest and oldest in sets(inventory, "h")
    events = [json.loads(line) for line in (inventory.parent / "hosts" / "h" / "events.jsonl").read_text().splitlines()]
    assert [e["id"] for e in events][-1] == 1002
    assert f"below its newest good version {versions[-1]}: a recorded downgrade" in events[-1]["message"]

    again = run(inventory, tmp_path / "again", "promote", version=oldest, allow_downgrade=True).results["h"]
    assert again["changed"] is False and not again.get("downgrade") and active(inventory, "h") == oldest
