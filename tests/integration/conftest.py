"""The integration tests of the modules and the role run against both agents: each lab host is served by the one given.

``lab_factory`` here builds every host for the agent of the test's ``lab_agent`` parameter: ``posix`` (the POSIX
agent) or ``windows`` (the Windows agent's C# engine under Mono, ``smsmse_defs_lab_agent: windows``), so each test
that builds its lab this way runs once per agent, with the same assertions. The ``windows`` run is skipped, with the
reason, only where Mono is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab


@pytest.fixture(params=lab.AGENTS)
def lab_agent(request: pytest.FixtureRequest) -> str:
    missing = lab.mono_missing() if request.param == "windows" else None
    if missing:
        pytest.skip(missing)
    return str(request.param)


@pytest.fixture
def lab_factory(tmp_path: Path, lab_agent: str) -> Callable[..., Path]:
    """Build a lab in a temporary folder, every host served by ``lab_agent``; returns the inventory path."""

    def build(*hosts: lab.LabHost) -> Path:
        return lab.build_lab(tmp_path / "lab", [dataclasses.replace(host, agent=lab_agent) for host in hosts])

    return build
