"""The POSIX agent's apply through ansible-playbook.

Killed by the test hook between the staging rename and the pointer swap, then run again.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .runner import playbook

pytestmark = pytest.mark.integration
PLAYBOOK = str(Path(__file__).parent / "playbooks" / "apply.yml")
#: the test double that kills the agent right before a step (the agent ships no such hook)
DOUBLE = {"PYTHONPATH": str(Path(__file__).parent / "agent_double"), "AGENT_DOUBLE_KILL_BEFORE": "write_pointer"}
OLD, NEW = "20261123.001", "20261125.003"


def definfo(version: str) -> bytes:
    return f"[DefDates]\r\nCurDefs={version}\r\n".encode()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def promote(host: Path) -> steps.Request:
    """The steps the controller sends after reading the host: copy NEW unless it is there, swap, retire OLD."""
    store = host / "csapi"
    source = host / "hawking" / NEW
    manifest = {p.name: {"size": p.stat().st_size, "sha256": sha(p.read_bytes())} for p in source.iterdir()}
    current = sha((store / "definfo.dat").read_bytes())
    staging = f".smsmse-staging-{NEW}-{uuid.uuid4().hex[:8]}"

    def step(op: str, args: dict[str, Any], *, required: bool = True, always: bool = False, commit: bool = False) -> dict[str, Any]:
        return {"op": op, "store": str(store), "required": required, "always": always, "commit": commit, "args": args}

    steps = [step("lock", {"stale_seconds": 900}), step("expect", {"definfo_sha256": current}), step("clean", {}, required=False)]
    if (store / NEW).is_dir():
        steps.append(step("matches", {"name": NEW, "manifest": manifest}))
    else:
        steps += [
            step("stage", {"source": str(source), "name": staging, "manifest": manifest}),
            step("rename", {"from": staging, "to": NEW}),
        ]
    steps += [
        step("write_pointer", {"content_b64": base64.b64encode(definfo(NEW)).decode(), "expect_sha256": current}, commit=True),
        step("retire", {"name": OLD}, required=False),
        step("unlock", {}, required=False, always=True),
    ]
    return outcome.request(steps)


def test_killed_before_the_pointer_swap_then_run_again(tmp_path: Path) -> None:
    host = tmp_path / "host"
    lab.write_set(host / "hawking", NEW)
    lab.write_set(host / "csapi", OLD)
    (host / "csapi" / "definfo.dat").write_bytes(definfo(OLD))
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(f"lab1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")

    request = promote(host)
    run = playbook(PLAYBOOK, inventory, tmp_path, extra={"apply_request": request, "agent_env": DOUBLE})
    killed = run.results["lab1"]
    assert killed.get("failed") and "reply" not in killed, killed
    assert parse_definfo((host / "csapi" / "definfo.dat").read_bytes()).cur_defs == OLD
    assert (host / "csapi" / NEW / "zdone.dat").is_file(), "the staging folder was renamed into place before the kill"
    read = outcome.interpret(request, None, str(killed.get("msg")))
    assert (read["changed"], read["error"]["code"]) == (True, "CHANGE_UNKNOWN")

    request = promote(host)
    run = playbook(PLAYBOOK, inventory, tmp_path, extra={"apply_request": request})
    reply = contract.check_reply("apply", run.results["lab1"]["reply"])
    read = outcome.interpret(request, reply)
    assert (read["changed"], read["failed"]) == (True, False), read["msg"]
    assert read["lock_broken"] is not None and "is gone" in read["lock_broken"]
    assert read["definfo_sha256"] == sha(definfo(NEW))
    assert sorted(p.name for p in (host / "csapi").iterdir()) == [NEW, "definfo.dat"]
