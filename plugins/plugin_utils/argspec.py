"""Argument specs derived from a module's DOCUMENTATION, so validation cannot drift from the docs.

``no_log`` is not a documentation key (validate-modules refuses it there), so the
options that carry secrets are named by the action plugin, as dotted paths.
"""

from __future__ import annotations

import importlib
from typing import Any

import yaml

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


def _options(options: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for name, option in options.items():
        entry = {key: option[key] for key in _SPEC_KEYS if key in option}
        entry.setdefault("type", "str")
        if "suboptions" in option:
            entry["options"] = _options(option["suboptions"])
        spec[name] = entry
    return spec
