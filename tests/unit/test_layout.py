"""The controller's layout: every module small enough to read whole, and the lab emulator apart from production code."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the controller's code: what runs on the Ansible controller
CONTROLLER = ("plugins/action", "plugins/plugin_utils", "plugins/filter")
MAX_LINES = 400
#: the lab emulator, an internal package
LAB = "plugins/plugin_utils/_lab"
#: production code allowed to import the lab when it is loaded: the lab's own action plugin
LAB_ENTRY_POINTS = ("plugins/action/defs_lab.py",)
LAB_PACKAGE = "ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab"


def too_long(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Controller module (relative path) -> its line count, for every module over ``limit`` lines."""
    found = {}
    for folder in CONTROLLER:
        for path in sorted((root / folder).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                found[path.relative_to(root).as_posix()] = lines
    return found


def _names_lab(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
        return any(n == LAB_PACKAGE or n.startswith(f"{LAB_PACKAGE}.") or n.startswith("_lab") for n in names) or (
            node.level > 0 and any(a.name == "_lab" for a in node.names)
        )
    return any(a.name == LAB_PACKAGE or a.name.startswith(f"{LAB_PACKAGE}.") for a in node.names)


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is loaded: those outside any function body."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue  # runs when called, not when loaded
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def lab_imports_at_load(root: Path) -> list[str]:
    """``path:line`` of every import of the lab that production code runs when it is loaded."""
    found = []
    for path in sorted((root / "plugins").rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(f"{LAB}/") or relative in LAB_ENTRY_POINTS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{relative}:{node.lineno}" for node in _load_time_imports(tree) if _names_lab(node)]
    return sorted(found)


def test_no_controller_module_is_over_400_lines() -> None:
    assert too_long(ROOT) == {}, f"split these by job (at most {MAX_LINES} lines a module)"


def test_the_line_rule_sees_every_controller_folder_and_subpackage(tmp_path: Path) -> None:
    for folder in CONTROLLER:
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "fits.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "plugins/plugin_utils/_inner").mkdir()
    (tmp_path / "plugins/plugin_utils/_inner/long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "plugins/filter/long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert too_long(tmp_path) == {"plugins/filter/long.py": 401, "plugins/plugin_utils/_inner/long.py": 401}


def test_the_lab_is_its_own_internal_package() -> None:
    lab = ROOT / LAB
    assert (lab / "__init__.py").read_text(encoding="utf-8").strip(), "the package says what it is"
    assert "never used for a real host" in (lab / "__init__.py").read_text(encoding="utf-8")
    for name in ("lab.py", "lab_engine.py", "lab_product.py"):
        assert (lab / name).is_file()
        assert not (ROOT / "plugins/plugin_utils" / name).exists(), f"{name} is the lab's, not production code's"


def test_no_production_module_imports_the_lab_when_loaded() -> None:
    assert lab_imports_at_load(ROOT) == []


def test_the_lab_rule_finds_a_load_time_import_and_allows_one_at_call_time(tmp_path: Path) -> None:
    utils = tmp_path / "plugins/plugin_utils"
    (utils / "_lab").mkdir(parents=True)
    (utils / "_lab/lab.py").write_text("from ansible_collections.mailsec.smsmse.plugins.plugin_utils import agent\n")
    (utils / "eager.py").write_text(f"from {LAB_PACKAGE} import lab\n")
    (utils / "guarded.py").write_text(f"try:\n    from {LAB_PACKAGE}.lab_engine import bundle\nexcept ImportError:\n    pass\n")
    (utils / "relative.py").write_text("from . import _lab\n")
    (utils / "lazy.py").write_text(f"def call():\n    from {LAB_PACKAGE} import lab_engine\n    return lab_engine\n")
    (tmp_path / "plugins/action").mkdir()
    (tmp_path / "plugins/action/defs_lab.py").write_text(f"from {LAB_PACKAGE} import lab\n")
    found = lab_imports_at_load(tmp_path)
    assert found == ["plugins/plugin_utils/eager.py:1", "plugins/plugin_utils/guarded.py:2", "plugins/plugin_utils/relative.py:1"]


def test_loading_every_production_module_loads_no_lab_module() -> None:
    # what the rule above reads in the source, shown by Python itself: import everything production ships, then look
    modules = []
    for folder in CONTROLLER:
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.as_posix().startswith(f"{LAB}/") or relative.as_posix() in LAB_ENTRY_POINTS or path.name == "__init__.py":
                continue
            modules.append("ansible_collections.mailsec.smsmse." + ".".join(relative.with_suffix("").parts))
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({LAB_PACKAGE!r}))))\n"
    )
    collections = ROOT / ".build" / "collections"  # tests/conftest.py links the tree there as ansible_collections/mailsec/smsmse
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=collections, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert len(modules) > 40
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []


#: the modules of plugin_utils other collections and playbooks may rely on; everything else is internal
PUBLIC_MODULES = ("assessment", "errors", "error_codes")
UTILS = ROOT / "plugins" / "plugin_utils"


def unmarked(utils: Path) -> list[str]:
    """plugin_utils modules that are neither public nor inside a package whose name starts with an underscore."""
    found = []
    for path in sorted(utils.rglob("*.py")):
        parts = path.relative_to(utils).parts
        public = len(parts) == 1 and path.stem in (*PUBLIC_MODULES, "__init__")
        internal = len(parts) > 1 and parts[0].startswith("_")
        if not (public or internal):
            found.append(path.relative_to(utils).as_posix())
    return found


def test_every_controller_module_is_public_or_in_an_internal_package() -> None:
    assert unmarked(UTILS) == []
    packages = sorted(p.name for p in UTILS.iterdir() if p.is_dir() and p.name != "__pycache__" and (p / "__init__.py").exists())
    assert packages == ["_change", "_decide", "_host", "_lab", "_report", "_run", "_trust"]
    for package in packages:
        doc = ast.get_docstring(ast.parse((UTILS / package / "__init__.py").read_text(encoding="utf-8")))
        assert doc, f"{package} says what it holds"
    assert all(f"``{package}``" in (ast.get_docstring(ast.parse((UTILS / "__init__.py").read_text())) or "") for package in packages)


def test_the_marking_rule_finds_a_module_outside_the_packages(tmp_path: Path) -> None:
    (tmp_path / "_host").mkdir()
    (tmp_path / "_host" / "agent.py").write_text("")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "plan.py").write_text("")
    (tmp_path / "assessment.py").write_text("")
    (tmp_path / "verify.py").write_text("")
    assert unmarked(tmp_path) == ["jobs/plan.py", "verify.py"]
