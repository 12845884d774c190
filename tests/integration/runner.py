"""Running ansible-playbook against lab inventories, from the Python that runs the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
BIN = Path(sys.executable).parent


@dataclass
class Run:
    returncode: int
    output: str
    results: dict[str, dict[str, Any]]

    def agent_calls(self, host: str | None = None) -> int:
        """Module executions of an agent, counted from -vvv output (each puts one AnsiballZ file on the host)."""
        lines = [line for line in self.output.splitlines() if " PUT " in line and "AnsiballZ_defs_agent_" in line]
        return len([line for line in lines if host is None or f"<{host}>" in line])


def playbook(playbook: str, inventory: Path, tmp: Path, *args: str, extra: dict[str, Any] | None = None, path: str | None = None) -> Run:
    """Run a playbook with -vvv; each host's registered result is read from ``tmp/results/<host>.json``.

    ``path`` replaces the ``PATH`` the playbook runs with (for a machine without some tool).
    """
    results_dir = tmp / "results"
    if results_dir.exists():
        for old in results_dir.iterdir():
            old.unlink()
    results_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_PIPELINING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
        **({"PATH": path} if path is not None else {}),
    }
    variables = {"smsmse_facts_dir": str(results_dir), **(extra or {})}
    command = [str(BIN / "ansible-playbook"), playbook, "-i", str(inventory), "-vvv", "-e", json.dumps(variables), *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp, check=False, timeout=600)
    results = {p.stem: json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))}
    return Run(done.returncode, done.stdout + done.stderr, results)
