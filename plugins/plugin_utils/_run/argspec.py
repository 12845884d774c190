"""Argument specs derived from a module's DOCUMENTATION, so validation cannot drift from the docs.

``no_log`` is not a documentation key (validate-modules refuses it there), so the
options that carry secrets are named by the action plugin, as dotted paths.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import yaml

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import narrow
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases")


def documented_options(documentation: str) -> dict[str, Any]:
    """The options ``DOCUMENTATION`` describes, with those of its documentation fragments (this collection's)."""
    doc = yaml.safe_load(documentation)
    options: dict[str, Any] = {}
    for fragment in doc.get("extends_documentation_fragment") or []:
        namespace, collection, name, *attribute = fragment.split(".")
        module = importlib.import_module(f"ansible_collections.{namespace}.{collection}.plugins.doc_fragments.{name}")
        text = getattr(module.ModuleDocFragment, (attribute[0] if attribute else "documentation").upper())
        options.update(yaml.safe_load(text).get("options") or {})
    options.update(doc.get("options") or {})
    return options


def from_documentation(documentation: str, *, no_log: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``argument_spec`` that ``DOCUMENTATION``'s ``options`` describe, with ``no_log`` on the named options."""
    spec = _options(documented_options(documentation))
    for dotted in no_log:
        *parents, name = dotted.split(".")
        level = spec
        for parent in parents:
            level = level[parent]["options"]
        level[name]["no_log"] = True
    return spec


def _options(options: Mapping[str, object]) -> dict[str, Any]:
    """The spec of documented ``options`` (YAML read from a documentation string: each option and suboptions checked)."""
    spec: dict[str, Any] = {}
    for name, given in options.items():
        option = _documented(given, name)
        entry = {key: option[key] for key in _SPEC_KEYS if key in option}
        entry.setdefault("type", "str")
        if "suboptions" in option:
            entry["options"] = _options(_documented(option["suboptions"], f"{name}.suboptions"))
        spec[name] = entry
    return spec


def _documented(value: object, where: str) -> Mapping[str, object]:
    """``value``, a mapping the documentation gives at ``where``; a TypeError naming the place when it is not one."""
    return narrow.mapping(value, f"the documentation's `{where}`")


#: integer option -> (lowest, highest) value accepted, for every module that documents it as an int. Each option's
#: description states its range in these words, ``From LOW to HIGH.`` (tests/unit/test_argspecs.py keeps the
#: two equal), and no range is wider than what the agents' contract (schemas/agent/) accepts.
BOUNDS: dict[str, tuple[int, int]] = {
    "event_hours": (0, 87600),
    "lock_stale_seconds": (1, 86400),
    "timeout": (1, 86400),
    "deadline": (1, 86400),
    "source_timeout": (1, 86400),
    "liveupdate_timeout": (1, 86400),
    "keep": (1, 1000),
    "hosts": (1, 1000),
    "windows_every": (0, 1000),
}


def range_text(option: str) -> str:
    """How an option's documentation states its range."""
    low, high = BOUNDS[option]
    return f"From {low} to {high}."


def check_bounds(spec: Mapping[str, Mapping[str, object]], options: Mapping[str, object]) -> None:
    """Refuse, with ``OPTION_INVALID`` naming the option and its range, an int option of ``spec`` outside :data:`BOUNDS`."""
    for option, (low, high) in BOUNDS.items():
        value = options.get(option)
        if spec.get(option, {}).get("type") == "int" and isinstance(value, int) and not low <= value <= high:
            raise SmsmseError("OPTION_INVALID", f"`{option}` is {value}: set it to a whole number from {low} to {high}.")
