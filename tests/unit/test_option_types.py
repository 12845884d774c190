"""Every module's options TypedDict (plugin_utils/_run/option_types.py) says what its DOCUMENTATION says."""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from ansible_collections.mailsec.smsmse.plugins import action

#: a documented option type -> the Python type its value has after Ansible checked it
PYTHON_TYPE: dict[str, type] = {
    "str": str,
    "path": str,
    "int": int,
    "bool": bool,
    "float": float,
    "list": list,
    "dict": dict,
    "raw": object,
}
MODULES = sorted(m.name for m in pkgutil.iter_modules(action.__path__))


def options_type(module: str) -> Any:
    """The TypedDict a module's action plugin declares in its base, ``DocumentedAction[...]``."""
    plugin = importlib.import_module(f"{action.__name__}.{module}").ActionModule
    (base,) = plugin.__orig_bases__
    (declared,) = get_args(base)
    return declared


def value_types(hint: Any) -> tuple[set[type], bool]:
    """(the Python types a hint allows, None aside; whether it allows None)."""
    parts = get_args(hint) if get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    allowed = {get_origin(p) or p for p in parts if not (isinstance(p, type) and issubclass(p, type(None)))}
    return {dict if typing.is_typeddict(p) else p for p in allowed}, type(None) in parts


def required_keys(declared: Any) -> set[str]:
    """The keys of a TypedDict but those marked NotRequired (keys a module adds itself, not options)."""
    hints = get_type_hints(declared, include_extras=True)
    return {name for name, hint in hints.items() if get_origin(hint) is not typing.NotRequired}


def departures(declared: Any, spec: dict[str, Any]) -> list[str]:
    """Where a TypedDict departs from an argument spec: an option missing or extra, a value of another type, None
    allowed where the module always has a value (or not allowed where it may have none)."""
    typed = required_keys(declared)
    found = [f"{name}: documented, not typed" for name in sorted(set(spec) - typed)]
    found += [f"{name}: typed, not documented" for name in sorted(typed - set(spec))]
    hints = get_type_hints(declared)
    for name, documented in spec.items():
        if name not in hints:
            continue
        allowed, none = value_types(hints[name])
        kind = documented.get("type", "str")
        if allowed != {PYTHON_TYPE[kind]}:
            found.append(f"{name}: documented {kind}, typed {hints[name]}")
        may_be_none = not documented.get("required", False) and documented.get("default") is None and kind != "raw"
        if none != may_be_none:
            found.append(f"{name}: typed {hints[name]}, but {'may' if may_be_none else 'never'} is None")
    return found


@pytest.mark.parametrize("module", MODULES)
def test_the_typed_options_are_the_documented_ones(module: str) -> None:
    declared = options_type(module)
    assert typing.is_typeddict(declared), f"{module} declares no options TypedDict"
    assert departures(declared, importlib.import_module(f"{action.__name__}.{module}").ActionModule.ARGUMENT_SPEC) == []


def test_each_kind_of_departure_is_found() -> None:
    class Typed(typing.TypedDict):
        path: str
        mode: str
        keep: int | None
        extra: bool

    spec = {
        "path": {"type": "path", "required": True},
        "mode": {"type": "str"},  # no default: None when not given
        "keep": {"type": "int", "default": 2},  # a default: never None
        "timeout": {"type": "int", "default": 60},
    }
    assert departures(Typed, spec) == [
        "timeout: documented, not typed",
        "extra: typed, not documented",
        "mode: typed <class 'str'>, but may is None",
        "keep: typed int | None, but never is None",
    ]
