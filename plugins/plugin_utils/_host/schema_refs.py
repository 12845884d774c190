"""JSON Schemas with every ``$ref`` replaced by what it points at, so that a validator never looks one up.

``jsonschema`` resolves a ``$ref`` through its registry each time an instance
reaches it: 40 % of the time checking a probe reply took, and most of checking a
report of 1,000 hosts. The collection's schemas are trees (no reference leads back
to itself), so the references are replaced once, when a validator is built. A
reference next to other keywords becomes one more ``allOf`` entry (what a
``$ref`` with siblings means in draft 2020-12). A cycle, or a reference to
a document or a place that does not exist, raises :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: keywords whose values are instances, not schemas: never rewritten
DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
#: keywords that only serve references or identify a document: dropped once nothing refers to them
DROPPED = frozenset({"$defs", "$id", "$schema"})


def inline(schema: Mapping[str, object], documents: Mapping[str, Mapping[str, object]]) -> dict[str, Any]:
    """``schema`` with its references replaced; ``documents`` are the other schemas it refers to, by ``$id``."""
    inlined = _inline(schema, schema, documents, ())
    if not isinstance(inlined, dict):  # pragma: no cover - a schema document is an object
        raise ValueError("a schema document must be an object")
    return {**inlined, **{key: schema[key] for key in ("$schema", "$id") if key in schema}}


def _pointer(document: object, fragment: str) -> object:
    node = document
    for escaped in fragment.split("/")[1:] if fragment else []:
        part = escaped.replace("~1", "/").replace("~0", "~")
        try:
            if isinstance(node, list):
                node = node[int(part)]
            elif isinstance(node, Mapping):
                node = node[part]
            else:  # a string or a number holds nothing to point at
                raise TypeError(part)
        except (KeyError, IndexError, TypeError, ValueError):
            raise ValueError(f"the reference #{fragment} points at nothing") from None
    return node


def _inline(node: object, base: Mapping[str, object], documents: Mapping[str, Mapping[str, object]], trail: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, base, documents, trail) for item in node]
    if not isinstance(node, Mapping):
        return node
    out = {
        key: value if key in DATA_KEYWORDS else _inline(value, base, documents, trail)
        for key, value in node.items()
        if key != "$ref" and key not in DROPPED
    }
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return out
    uri, _hash, fragment = ref.partition("#")
    target_document = documents.get(uri) if uri else base
    if target_document is None:
        raise ValueError(f"the reference {ref} names a document that was not given")
    where = f"{target_document.get('$id', '')}#{fragment}"
    if where in trail:
        raise ValueError(f"the reference {ref} leads back to itself ({' -> '.join((*trail, where))})")
    target = _inline(_pointer(target_document, fragment), target_document, documents, (*trail, where))
    if not out:
        return target
    return {**out, "allOf": [*out.get("allOf", []), target]}
