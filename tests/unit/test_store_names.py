"""Store names have one home: ``_host/store_names.py`` lists them once, and every other list of them is derived from it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import plan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide, health
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import layout, snapshot, store_names
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_files
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ("plugins/action", "plugins/plugin_utils", "plugins/filter")
OWNER = ROOT / "plugins/plugin_utils/_host/store_names.py"
NAMES = frozenset(get_args(store_names.StoreName))


def literal_lists(source: str) -> list[tuple[int, list[str]]]:
    """(line, names) of every tuple, list or set literal in ``source`` that spells two or more store names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            named = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in NAMES]
            if len(named) >= 2:
                found.append((node.lineno, named))
    return found


def test_the_literal_type_and_the_table_name_the_same_stores_once() -> None:
    assert tuple(get_args(store_names.StoreName)) == store_names.STORE_NAMES
    assert len(set(store_names.STORE_NAMES)) == len(store_names.STORE_NAMES)
    ranks = [role.source_rank for role in store_names.TABLE if role.source_rank is not None]
    assert sorted(ranks) == list(range(1, len(ranks) + 1))


def test_the_source_rule_ranks_smsmse_hawking_first_and_never_ranks_csapi() -> None:
    assert store_names.SOURCE_STORES == ("smsmse_hawking", "hawking")
    assert store_names.SOURCES_IN_TABLE_ORDER == ("hawking", "smsmse_hawking")
    assert store_names.OWNED_SOURCES == ("smsmse_hawking",)
    assert verify.SOURCE_RANK == ("smsmse_hawking", "hawking", "csapi", snapshot.EXTRA_STORE)


@pytest.mark.parametrize(
    "derived",
    [
        layout.STORE_NAMES,
        lab_files.STORES,
        snapshot.SOURCE_STORES,
        plan.SOURCES,
        decide.OWNED_SOURCES,
        health.SOURCES,
    ],
)
def test_every_list_of_store_names_is_the_tables(derived: tuple[str, ...]) -> None:
    owned = (store_names.STORE_NAMES, store_names.SOURCE_STORES, store_names.SOURCES_IN_TABLE_ORDER, store_names.OWNED_SOURCES)
    assert any(derived is table for table in owned)


def test_the_scan_finds_a_second_list() -> None:
    assert literal_lists('for name in ("hawking", "csapi"):\n    pass\nx = ["csapi"]\n') == [(1, ["hawking", "csapi"])]


def test_no_controller_module_lists_store_names_but_the_owner() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}": names
        for folder in CONTROLLER
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != OWNER
        for line, names in literal_lists(path.read_text(encoding="utf-8"))
    }
    assert found == {}, "list store names only in _host/store_names.py and derive the others from it"
