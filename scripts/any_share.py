"""The share of the controller's parameters typed ``Any`` or a dict/Mapping of ``str`` to ``Any``.

    python scripts/any_share.py [--max PERCENT]

Counts every parameter (``self`` and ``cls`` aside) of every function in the controller code
(``plugins/action``, ``plugins/plugin_utils``, ``plugins/filter``) and those whose annotation is
``Any``, ``dict[str, Any]`` or ``Mapping[str, Any]`` (or one of them or None). With ``--max``,
exits 1 when the share is above it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTROLLER = ("plugins/action", "plugins/plugin_utils", "plugins/filter")
LOOSE = {"Any", "dict[str, Any]", "Mapping[str, Any]"}


def loose(annotation: ast.expr | None) -> bool:
    """Whether an annotation is Any or a str-to-Any dict or Mapping (alone or with None)."""
    if annotation is None:
        return False
    text = ast.unparse(annotation).replace("typing.", "")
    return any(part.strip() in LOOSE for part in text.split("|")) and all(part.strip() in LOOSE | {"None"} for part in text.split("|"))


def count(paths: list[Path]) -> tuple[int, int, dict[str, int]]:
    """(parameters, loose ones, loose ones per file)."""
    total, found = 0, 0
    per_file: dict[str, int] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs, *filter(None, (args.vararg, args.kwarg))]
            for param in params:
                if param.arg in ("self", "cls"):
                    continue
                total += 1
                if loose(param.annotation):
                    found += 1
                    per_file[str(path.relative_to(ROOT))] = per_file.get(str(path.relative_to(ROOT)), 0) + 1
    return total, found, per_file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=float, help="fail above this share, in percent")
    options = parser.parse_args()
    paths = sorted(p for folder in CONTROLLER for p in (ROOT / folder).rglob("*.py"))
    total, found, per_file = count(paths)
    share = 100 * found / total if total else 0.0
    for name, n in sorted(per_file.items(), key=lambda item: -item[1])[:10]:
        print(f"{n:4d}  {name}")
    print(f"{found} of {total} controller parameters are Any or str-to-Any dicts: {share:.1f} %")
    return 1 if options.max is not None and share > options.max else 0


if __name__ == "__main__":
    sys.exit(main())
