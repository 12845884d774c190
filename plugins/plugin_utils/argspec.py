"""Argument specs derived from a module's DOCUMENTATION, so validation cannot drift from the docs."""

from __future__ import annotations

from typing import Any

import yaml

_SPEC_KEYS = ("type", "required", "default", "choices", "elements", "no_log", "aliases")


def from_documentation(documentation: str) -> dict[str, Any]:
    """The ``argument_spec`` that ``DOCUMENTATION``'s ``options`` describe."""
    doc = yaml.safe_load(documentation)
    return _options(doc.get("options") or {})


def _options(options: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for name, option in options.items():
        entry = {key: option[key] for key in _SPEC_KEYS if key in option}
        entry.setdefault("type", "str")
        if "suboptions" in option:
            entry["options"] = _options(option["suboptions"])
        spec[name] = entry
    return spec
