"""Promote on a lab host in-process, as the controller and the POSIX agent do it: probe, judge, plan, apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply
from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, plan, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot, store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import structure, verify

CTX = store_view.Context(windows=False)


def hostvars(inventory: Path, host: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(inventory.read_text())["all"]["children"]["smsmse_lab"]["hosts"][host]
    return found


def probe(inventory: Path, host: str) -> dict[str, Any]:
    """A hashing probe of ``host``, over the wire and checked as the controller receives it."""
    variables = hostvars(inventory, host)
    request = facts.probe_request(
        is_windows=False,
        stores=variables["smsmse_defs_stores"],
        product_option=variables["smsmse_defs_product"],
        events_file=variables["smsmse_defs_events_file"],
        event_hours=72,
        hashing={"deep": False, "cache_dir": str(inventory.parent / "cache" / host)},
    )
    contract.check_request("probe", request)
    return contract.check_reply("probe", json.loads(json.dumps(defs_agent_posix.probe(request))))


def stores(inventory: Path, host: str, reply: dict[str, Any] | None = None) -> dict[str, store_view.StoreView]:
    parsed = snapshot.parse(reply or probe(inventory, host), hostvars(inventory, host)["smsmse_defs_stores"])
    return store_view.view(parsed, verify.judge(parsed, required_files=structure.DEFAULT_REQUIRED_FILES, catalog=None))


def promote(inventory: Path, host: str, reply: dict[str, Any] | None = None) -> plan.Plan:
    return plan.promote(stores(inventory, host, reply), target="csapi", source=None, version="newest_good", keep=2, ctx=CTX)


def carry(the_plan: plan.Plan) -> dict[str, Any]:
    """The task result of carrying ``the_plan`` out on the host with the POSIX agent's ``apply``."""
    request = steps.request(the_plan.steps, wire=contract.wire(), cache_dir=None)
    reply = contract.check_reply("apply", json.loads(json.dumps({"contract": 1, "op": "apply", **apply.run(request)})))
    return outcome.interpret(request, reply)
