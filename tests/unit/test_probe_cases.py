"""Every case of tests/contract/probe_cases.yml, through the POSIX agent's probe on real folders (never blocking)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils import contract, facts

from .apply_host import Host

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).resolve().parents[1] / "contract" / "probe_cases.yml").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], tmp_path: Path) -> None:
    needs = set(case.get("needs", []))
    if "fifo" in needs and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    host = Host(tmp_path / "host", None)
    setup = dict(case["setup"])
    events = setup.pop("events", None)
    links = {name: state.pop("link_to") for name, state in setup.items() if "link_to" in state}
    host.build({name: state for name, state in setup.items() if name not in links})
    for name, target in links.items():
        (host.root / name).symlink_to(host.root / target, target_is_directory=True)
    events_file = host.root / "events.jsonl"
    if events == "fifo":
        os.mkfifo(events_file)
    stores = {name: str(host.root / name) for name in setup}
    request = facts.probe_request(
        is_windows=False,
        stores=stores,
        product_option={"name": "Symantec Mail Security for Microsoft Exchange", "version": "6.5.8"},
        events_file=str(events_file) if events else None,
        event_hours=72,
    )
    reply = defs_agent_posix.with_deadline(10, lambda: defs_agent_posix.probe(request))
    assert contract.problems("probe", "reply", reply) == []
    by_name = {s["name"]: s for s in reply["stores"]}
    want = dict(case["expect"])
    error = want.pop("events_error")
    assert (reply["events_error"] is None) if error is None else (error in str(reply["events_error"])), reply["events_error"]
    for name, expected in want.items():
        store = by_name[name]
        assert store["exists"] is expected["exists"]
        pointer = store["definfo"]
        if "pointer_kind" in expected:
            assert pointer.get("kind") == expected["pointer_kind"], pointer
        for key, field in (("pointer_sha256", "sha256"), ("pointer_content", "content_b64")):
            if key in expected:
                assert (pointer[field] is not None) if expected[key] == "any" else (pointer[field] is None), pointer
        if "same_real_path_as" in expected:
            assert store["real_path"] == by_name[expected["same_real_path_as"]]["real_path"] is not None
