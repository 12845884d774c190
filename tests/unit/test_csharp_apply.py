"""The C# behind the Windows agent's ``write_pointer`` and its retries, run under mono.

``tests/unit/csharp/ReplaceTests.cs`` drives ``StorePolicy.PointerReplace`` (finding: ReplaceFile
can remove ``definfo.dat`` and leave the new one under its temporary name) and
``StorePolicy.RetryBudget`` (one time limit per tree removal, not per entry) on in-memory
file systems that fail the way Windows does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .test_csharp import MONO, UTILS, mcs, needs_mono

RUNNER = Path(__file__).resolve().parent / "csharp" / "ReplaceTests.cs"


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    out = tmp_path_factory.mktemp("csharp-apply") / "ReplaceTests.exe"
    built = mcs(str(UTILS / "StorePolicy.cs"), str(RUNNER), out=out)
    assert built.returncode == 0, built.stdout + built.stderr
    assert MONO is not None
    ran = subprocess.run([MONO, str(out)], capture_output=True, text=True, check=False, timeout=120)
    found: dict[str, list[str]] = {"ok": [], "FAIL": [], "rc": [str(ran.returncode)]}
    for line in ran.stdout.splitlines():
        kind, _space, rest = line.partition(" ")
        found.setdefault(kind, []).append(rest)
    return found


@needs_mono
def test_replace_and_budget_checks_pass(checks: dict[str, list[str]]) -> None:
    assert checks["FAIL"] == []
    assert checks["rc"] == ["0"]


@needs_mono
@pytest.mark.parametrize(
    "name",
    [
        "replace_1176_target_gone_finishes_move",  # the new definfo.dat is never lost after ReplaceFile removed the old one
        "replace_target_gone_after_1177",
        "replace_finish_move_retried",
        "replace_1176_target_there_retried",
        "replace_1175_is_sharing_violation",
        "replace_read_only_kept",
        "tree_budget_shared",  # 2,000 denied files cost one retry budget, not 2,000
        "tree_budget_every_entry_tried",
    ],
)
def test_each_defect_is_exercised(checks: dict[str, list[str]], name: str) -> None:
    assert name in checks["ok"]
