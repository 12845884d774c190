"""The Windows agent's engine killed before every step of a promote and of an in-place replace.

The kill is the crash double's (tests/unit/csharp/KillBefore.cs, through ``engine.call(kill_before=...)``): the
engine ships no test switch.

After each kill the store's definfo.dat names a complete set with the right bytes, and the next run
(the same change read afresh, through the engine) converges on the new set with no leftovers: the
killed run's lock is broken (its process is gone) and clean puts back what it left.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from . import engine
from .apply_host import definfo_bytes, tree
from .test_apply_crash import FILES, NEW, OLD, assert_points_at_a_complete_set, corrupt_active, promote_steps, replace_steps, true_bytes

pytestmark = engine.needs_mono


@pytest.fixture
def host(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    lab.write_set(root / "hawking", NEW, FILES)
    lab.write_set(root / "csapi", OLD, FILES)
    (root / "csapi" / "definfo.dat").write_bytes(definfo_bytes(OLD))
    return root


def run(steps: list[dict[str, Any]], kill: int | None = None) -> dict[str, Any]:
    request = outcome.request(steps)
    return engine.call("apply", request, kill_before=kill)


def converge(host: Path, steps: Callable[[Path], list[dict[str, Any]]]) -> None:
    request = outcome.request(steps(host))
    out = engine.call("apply", request)
    read = outcome.interpret(request, out["reply"])
    assert not read["failed"], read["msg"]
    store = host / "csapi"
    assert assert_points_at_a_complete_set(store) == NEW
    assert sorted(p.name for p in store.iterdir()) == [NEW, "definfo.dat"]
    assert tree(store / NEW) == true_bytes(NEW)


@pytest.mark.parametrize("kill", range(9))
def test_promote_killed_before_each_step(host: Path, kill: int) -> None:
    steps = promote_steps(host)
    assert len(steps) == 9
    out = run(steps, kill)
    assert "crashed" in out, f"step {kill} ({steps[kill]['op']}): the engine was not killed"
    assert assert_points_at_a_complete_set(host / "csapi") in (OLD, NEW)
    converge(host, promote_steps)


@pytest.mark.parametrize("kill", range(7))
def test_replace_in_place_killed_before_each_step(host: Path, kill: int) -> None:
    corrupt_active(host)
    steps = replace_steps(host)
    assert len(steps) == 7
    out = run(steps, kill)
    assert "crashed" in out, f"step {kill} ({steps[kill]['op']}): the engine was not killed"
    store = host / "csapi"
    assert (store / NEW).is_dir(), "the active set's name holds a folder"
    converge(host, replace_steps)


def test_the_engine_ships_no_test_switch() -> None:
    """No test hook in shipped code: the engine reads no environment variable of the tests; the crash double kills it."""
    shipped = {p.name: p.read_text(encoding="utf-8") for p in engine.UTILS.glob("*.cs")}
    assert [name for name, text in shipped.items() if "KILL_BEFORE" in text or "MAILSEC_SMSMSE_TEST" in text] == []
    assert [name for name, text in shipped.items() if "GetCurrentProcess().Kill" in text] == [], "the engine never kills itself"


def test_the_crash_double_kills_exactly_before_the_step_named(host: Path) -> None:
    """The double is asked before every step: killed before step 2, the steps before it ran (the lock is taken) and
    none after (the staging folder was never made)."""
    out = run(promote_steps(host), 2)
    assert "crashed" in out, out
    store = host / "csapi"
    assert (store / ".smsmse-lock").exists(), "the lock step ran"
    assert sorted(p.name for p in store.iterdir()) == [".smsmse-lock", OLD, "definfo.dat"], "nothing after step 1 ran"
