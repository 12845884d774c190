"""Schemas with their references replaced: they judge every document exactly as the originals do, and cycles are refused."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, schema_refs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._report import report_build
from tests.unit.test_agent_posix import probe_host
from tests.unit.test_report import build, check, record


def original(op: str, kind: str) -> Any:
    """The validator as it was: references looked up in a registry."""
    wire = contract._load("wire.json")
    registry: Registry[Any] = Registry().with_resource(wire["$id"], Resource.from_contents(wire))
    return jsonschema.Draft202012Validator(contract.schema(op, kind), registry=registry)


def errors(validator: Any, document: Any) -> list[tuple[list[Any], str]]:
    return sorted((list(e.absolute_path), e.message) for e in validator.iter_errors(document))


def holds_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(holds_ref(v) for k, v in node.items() if k not in schema_refs.DATA_KEYWORDS)
    return isinstance(node, list) and any(holds_ref(v) for v in node)


@pytest.mark.parametrize("op", contract.OPERATIONS)
@pytest.mark.parametrize("kind", ["request", "reply"])
def test_the_validators_in_use_look_up_no_reference(op: str, kind: str) -> None:
    assert not holds_ref(contract._validator(op, kind).schema)
    assert not holds_ref(report_build._validator().schema)


BREAKS: list[Callable[[dict[str, Any]], None]] = [
    lambda r: r["stores"][2]["dirs"][0].update(files="none"),
    lambda r: r["stores"][2]["dirs"][0]["files"][0].update(size=-1),
    lambda r: r["stores"][2]["dirs"][0]["files"][0].pop("sha256", None) or r["stores"][2]["dirs"][0]["files"][0].update(path=7),
    lambda r: r["stores"][2].update(definfo={"present": "yes"}),
    lambda r: r["host"].update(os="windows10"),
    lambda r: r["events"].append({"id": "x"}),
    lambda r: r.update(extra=1),
]


@pytest.mark.parametrize("index", range(len(BREAKS)))
def test_a_probe_reply_is_judged_as_the_original_schema_judges_it(lab_factory: Callable[..., Path], index: int) -> None:
    reply = json.loads(json.dumps(probe_host(lab_factory(lab.LabHost("h1")), "h1")))
    assert errors(contract._validator("probe", "reply"), reply) == errors(original("probe", "reply"), reply) == []
    broken = copy.deepcopy(reply)
    BREAKS[index](broken)
    found = errors(contract._validator("probe", "reply"), broken)
    assert found and found == errors(original("probe", "reply"), broken)


def test_a_report_is_judged_as_the_original_schema_judges_it() -> None:
    built = build([record("a", "drift", [check("csapi_newest", "fail")]), record("b", "compliant")])
    plain = jsonschema.Draft202012Validator(json.loads(report_build.SCHEMA_PATH.read_text()))
    for breaking in (lambda d: d["hosts"][0].update(status="green"), lambda d: d["summary"]["percent"].update(drift=101), lambda d: None):
        document = copy.deepcopy(built)
        breaking(document)
        assert errors(report_build._validator(), document) == errors(plain, document)


def test_a_reference_with_siblings_keeps_both() -> None:
    schema = {"$defs": {"small": {"maximum": 3}}, "properties": {"n": {"$ref": "#/$defs/small", "minimum": 1}}}
    validator = jsonschema.Draft202012Validator(schema_refs.inline(schema, {}))
    assert validator.is_valid({"n": 2}) and not validator.is_valid({"n": 0}) and not validator.is_valid({"n": 4})


def test_data_that_looks_like_a_reference_is_left_alone() -> None:
    schema = {"properties": {"n": {"const": {"$ref": "#/nowhere"}}}}
    assert schema_refs.inline(schema, {})["properties"]["n"] == {"const": {"$ref": "#/nowhere"}}


@pytest.mark.parametrize(
    ("schema", "documents", "message"),
    [
        ({"$id": "a", "$defs": {"x": {"items": {"$ref": "#/$defs/x"}}}, "$ref": "#/$defs/x"}, {}, "leads back to itself"),
        ({"$ref": "urn:other#/$defs/x"}, {}, "names a document that was not given"),
        ({"$ref": "#/$defs/missing"}, {}, "points at nothing"),
        ({"$ref": "urn:b"}, {"urn:b": {"$id": "urn:b", "$ref": "urn:c"}, "urn:c": {"$id": "urn:c", "$ref": "urn:b"}}, "leads back"),
    ],
)
def test_cycles_and_dangling_references_are_refused(schema: dict[str, Any], documents: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        schema_refs.inline(schema, documents)
