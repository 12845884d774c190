"""The sequence state only goes up, even with many writers at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import catalog_state
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError


def test_monotonic(tmp_path: Path) -> None:
    state = str(tmp_path / "seq.json")
    assert catalog_state.last_sequence(state) is None
    assert catalog_state.record(state, 5) == 5
    assert catalog_state.record(state, 3) == 5
    assert catalog_state.record(state, 9) == 9
    assert catalog_state.last_sequence(state) == 9


def test_damaged_state_is_an_error(tmp_path: Path) -> None:
    state = tmp_path / "seq.json"
    state.write_text("garbage")
    with pytest.raises(SmsmseError, match="STATE_UNWRITABLE"):
        catalog_state.last_sequence(str(state))
    state.write_text('{"sequence": -3}')
    with pytest.raises(SmsmseError, match="STATE_UNWRITABLE"):
        catalog_state.last_sequence(str(state))


def _writer(args: tuple[str, int]) -> int:
    return catalog_state.record(*args)


def test_concurrent_writers_keep_the_highest(tmp_path: Path) -> None:
    state = str(tmp_path / "seq.json")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_writer, [(state, n) for n in range(1, 200)])
    assert catalog_state.last_sequence(state) == 199
