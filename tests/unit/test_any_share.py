"""scripts/any_share.py: which parameter types let Any through, aliases resolved."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.scripts import any_share


def _loose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: dict[str, str]) -> dict[str, int]:
    """Loose parameters per file of the modules given as {relative path: source}; aliases resolve across them."""
    monkeypatch.setattr(any_share, "ROOT", tmp_path)
    paths = []
    for name, source in modules.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
        paths.append(path)
    total, found, per_file = any_share.count(paths)
    assert total == sum(source.count("def ") for source in modules.values())  # one parameter per function below
    assert found == sum(per_file.values())
    return per_file


HEAD = "from __future__ import annotations\nfrom typing import Any, Optional, Callable, TypeVar\nfrom collections.abc import Mapping\n"


@pytest.mark.parametrize(
    ("annotation", "loose"),
    [
        ("Any", True),
        ("dict[str, Any]", True),
        ("Mapping[str, Any] | None", True),
        ("Optional[Any]", True),
        ("list[dict[str, Any]]", True),
        ("tuple[str, Mapping[str, Any]]", True),
        ('"Mapping[str, Any]"', True),
        ("Mapping[str, object]", False),
        ("dict[str, int] | None", False),
        ("Callable[..., Any]", False),
        ("str", False),
    ],
)
def test_a_written_annotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, annotation: str, loose: bool) -> None:
    found = _loose(tmp_path, monkeypatch, {"plugins/plugin_utils/m.py": HEAD + f"def f(x: {annotation}) -> None: ...\n"})
    assert found == ({"plugins/plugin_utils/m.py": 1} if loose else {})


def test_an_alias_in_the_same_module_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = HEAD + "Row = dict[str, Any]\nRows = list[Row]\nT = TypeVar('T', bound=Mapping[str, Any])\n"
    source += "def f(x: Row) -> None: ...\ndef g(x: Rows | None) -> None: ...\ndef h(x: T) -> T: ...\n"
    assert _loose(tmp_path, monkeypatch, {"plugins/plugin_utils/m.py": source}) == {"plugins/plugin_utils/m.py": 3}


def test_an_imported_alias_counts_by_name_and_through_its_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = "ansible_collections.mailsec.smsmse.plugins.plugin_utils"
    modules = {
        "plugins/plugin_utils/shapes.py": HEAD + "Step = dict[str, Any]\nRow = Mapping[str, object]\n",
        "plugins/plugin_utils/user.py": (
            f"from __future__ import annotations\nfrom {pkg}.shapes import Step, Row as Line\nfrom {pkg} import shapes\n"
            "def f(x: Step) -> None: ...\ndef g(x: shapes.Step) -> None: ...\ndef h(x: Line) -> None: ...\n"
            "def i(x: shapes.Row) -> None: ...\n"
        ),
    }
    assert _loose(tmp_path, monkeypatch, modules) == {"plugins/plugin_utils/user.py": 2}


def test_typing_spelled_as_a_module_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = "from __future__ import annotations\nimport typing as t\nimport typing\ndef f(x: t.Any) -> None: ...\n"
    source += "def g(x: dict[str, typing.Any]) -> None: ...\n"
    assert _loose(tmp_path, monkeypatch, {"plugins/filter/m.py": source}) == {"plugins/filter/m.py": 2}


def test_an_alias_that_names_itself_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = HEAD + "A = list['B']\nB = list['A']\ndef f(x: A) -> None: ...\n"
    assert _loose(tmp_path, monkeypatch, {"plugins/plugin_utils/m.py": source}) == {}


def test_max_fails_above_the_share(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _loose(tmp_path, monkeypatch, {"plugins/action/a.py": HEAD + "def f(x: Any) -> None: ...\ndef g(x: int) -> None: ...\n"})
    assert any_share.main(["--max", "50"]) == 0
    assert any_share.main(["--max", "49.9"]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 controller parameters let Any through: 50.0 %" in out
    assert "above the allowed 49.9 %" in out
