"""Argument specs derived from a module's DOCUMENTATION, so validation cannot drift from the docs.

``no_log`` is not a documentation key (validate-modules refuses it there), so the
options that carry secrets are named by the action plugin, as dotted paths.
"""

from __future__ import annotations

from typing import Any

import yaml

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "aliases")


def from_documentation(documentation: str, *, no_log: tuple[str, ...] = ()) -> dict[str, Any]:
    """The ``argument_spec`` that ``DOCUMENTATION``'s ``options`` describe, with ``no_log`` on the named options."""
    doc = yaml.safe_load(documentation)
    spec = _options(doc.get("options") or {})
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
