"""The share of the controller's parameters whose type lets ``Any`` through.

    python scripts/any_share.py [--max PERCENT]

Counts every parameter (``self`` and ``cls`` aside) of every function in the controller code
(``plugins/action``, ``plugins/plugin_utils``, ``plugins/filter``) and those that are *loose*: their
annotation, with every type alias resolved, holds ``Any`` anywhere but inside ``Callable[...]``.
So ``Any``, ``dict[str, Any]``, ``Mapping[str, Any] | None``, ``Optional[Any]``,
``list[dict[str, Any]]`` and ``tuple[str, Mapping[str, Any]]`` are loose, and so is ``Step`` after
``Step = dict[str, Any]`` (in the same module or imported from another one of the collection) and a
``TypeVar`` bound to one of them; ``Mapping[str, object]``, a TypedDict or a dataclass are not.

A list of untyped dicts is as loose as one untyped dict: nothing says what its items hold, so nested
forms count. ``Callable[..., Any]`` does not: a callback whose result is ignored says all it needs.
The fields of a TypedDict or a dataclass are not parameters and are not counted here.

With ``--max``, exits 1 when the share is above it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ansible_collections.mailsec.smsmse"
CONTROLLER = ("plugins/action", "plugins/plugin_utils", "plugins/filter")
#: where the aliases a controller module may import live
ALIAS_SOURCES = ("plugins",)
#: module names that stand for ``typing`` in ``typing.Any``
TYPING_MODULES = frozenset({"typing", "t", "typing_extensions"})
#: ``type Name = ...`` (Python 3.12 on; older Pythons have no such statement)
_TYPE_STATEMENT: Any = getattr(ast, "TypeAlias", None)
#: subscripted forms whose arguments are not data (their ``Any`` is not counted)
OPAQUE = frozenset({"Callable"})


@dataclass
class Module:
    """What one module says about names: its aliases, and where its imported names come from."""

    name: str
    #: module-level ``Name = <expression>`` (and ``Name: TypeAlias = ...``, ``type Name = ...``)
    aliases: dict[str, ast.expr] = field(default_factory=dict)
    #: ``from X import Y as Z``: Z -> (X, Y)
    imported: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: ``import X as Z`` or ``from P import X as Z`` where P.X is a module: Z -> full module name
    modules: dict[str, str] = field(default_factory=dict)


def module_name(path: Path) -> str:
    return ".".join((PACKAGE, *path.relative_to(ROOT).with_suffix("").parts))


def read_module(name: str, tree: ast.Module) -> Module:
    """The aliases and imports at the top level of ``tree``."""
    found = Module(name)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            found.aliases[node.targets[0].id] = _bound_of_typevar(node.value)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            found.aliases[node.target.id] = _bound_of_typevar(node.value)
        elif _TYPE_STATEMENT is not None and isinstance(node, _TYPE_STATEMENT) and isinstance(node.name, ast.Name):
            found.aliases[node.name.id] = node.value
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                local = alias.asname or alias.name
                found.imported[local] = (node.module, alias.name)
                found.modules[local] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found.modules[alias.asname or alias.name] = alias.name
    return found


def _bound_of_typevar(value: ast.expr) -> ast.expr:
    """``TypeVar("T", bound=X)`` stands for X here; anything else for itself."""
    if isinstance(value, ast.Call) and _last_name(value.func) == "TypeVar":
        for keyword in value.keywords:
            if keyword.arg == "bound":
                return keyword.value
    return value


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@dataclass
class Resolver:
    """Whether annotations hold ``Any``, every alias of the known modules resolved."""

    modules: Mapping[str, Module]

    def loose(self, annotation: ast.expr | None, where: str) -> bool:
        """Whether ``annotation``, read in module ``where``, holds ``Any`` outside ``Callable[...]``."""
        return annotation is not None and self._holds_any(annotation, where, frozenset())

    def _holds_any(self, node: ast.expr, where: str, seen: frozenset[tuple[str, str]]) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a forward reference: "Name"
            try:
                parsed = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return False
            return self._holds_any(parsed, where, seen)
        if isinstance(node, ast.Subscript):
            if _last_name(node.value) in OPAQUE:
                return False
            return self._holds_any(node.value, where, seen) or self._holds_any(node.slice, where, seen)
        if isinstance(node, (ast.Tuple, ast.List)):
            return any(self._holds_any(item, where, seen) for item in node.elts)
        if isinstance(node, ast.BinOp):
            return self._holds_any(node.left, where, seen) or self._holds_any(node.right, where, seen)
        if isinstance(node, ast.Name):
            return self._name_holds_any(node.id, where, seen)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = self.modules.get(where)
            target = module.modules.get(node.value.id) if module else None
            if node.attr == "Any" and (node.value.id in TYPING_MODULES or target in TYPING_MODULES):
                return True
            return target is not None and self._name_holds_any(node.attr, target, seen)
        return False

    def _name_holds_any(self, name: str, where: str, seen: frozenset[tuple[str, str]]) -> bool:
        if (where, name) in seen:
            return False
        seen = seen | {(where, name)}
        module = self.modules.get(where)
        if module is None:
            return where in TYPING_MODULES and name == "Any"
        if name in module.aliases:
            return self._holds_any(module.aliases[name], where, seen)
        if name in module.imported:
            source, original = module.imported[name]
            return self._name_holds_any(original, source, seen)
        return False


def parameters(tree: ast.Module) -> Iterable[ast.arg]:
    """Every parameter of every function in ``tree``, ``self`` and ``cls`` aside."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for param in (*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, (args.vararg, args.kwarg))):
                if param.arg not in ("self", "cls"):
                    yield param


def count(paths: list[Path], sources: list[Path] | None = None) -> tuple[int, int, dict[str, int]]:
    """(parameters, loose ones, loose ones per file) of ``paths``; aliases are resolved over ``paths`` and ``sources``."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in {*paths, *(sources or [])}}
    modules = {module_name(path): read_module(module_name(path), tree) for path, tree in trees.items()}
    resolver = Resolver(modules)
    total, found = 0, 0
    per_file: dict[str, int] = {}
    for path in paths:
        where = module_name(path)
        for param in parameters(trees[path]):
            total += 1
            if resolver.loose(param.annotation, where):
                found += 1
                name = str(path.relative_to(ROOT))
                per_file[name] = per_file.get(name, 0) + 1
    return total, found, per_file


def python_files(folders: Iterable[str]) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--max", type=float, help="fail above this share, in percent")
    parser.add_argument("--all", action="store_true", help="list every file with a loose parameter, not only the first 10")
    parser.add_argument("--exclude", action="append", default=[], help="leave this file out (repeatable), e.g. to count a part")
    options = parser.parse_args(argv)
    excluded = {(ROOT / name).resolve() for name in options.exclude}
    paths = [p for p in python_files(CONTROLLER) if p.resolve() not in excluded]
    total, found, per_file = count(paths, python_files(ALIAS_SOURCES))
    share = 100 * found / total if total else 0.0
    ranked = sorted(per_file.items(), key=lambda item: (-item[1], item[0]))
    for name, n in ranked if options.all else ranked[:10]:
        print(f"{n:4d}  {name}")
    print(f"{found} of {total} controller parameters let Any through: {share:.1f} %")
    if options.max is not None and share > options.max:
        print(f"above the allowed {options.max} %: give the parameters above real types (TypedDict, Literal, dataclass)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
