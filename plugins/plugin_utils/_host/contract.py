"""The agent contract: JSON Schemas for each operation's request and reply.

The schemas ship in the collection under ``schemas/agent/``. The controller
validates its own requests (a bug check) and every reply (host data is
untrusted input) before anything else reads them.

The validators are built when this module is imported (:func:`warm`). Ansible
imports an action plugin in its main process before it forks a worker per host
and task, so every worker inherits them ready: importing ``jsonschema`` and
building a validator in each worker cost more than the rest of a verify task's
controller work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import schema_refs
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "agent"
CONTRACT_VERSION = 1
_Request = TypeVar("_Request", bound=Mapping[str, object])
OPERATIONS: tuple[str, ...] = ("probe", "apply", "run_liveupdate")
#: the reply schema of each operation
REPLY_SCHEMAS: dict[str, str] = {
    "probe": "probe.reply.json",
    "apply": "apply.reply.json",
    "run_liveupdate": "run_liveupdate.reply.json",
}


@cache
def schema(op: str, kind: str) -> dict[str, Any]:
    """The schema of ``op``'s ``request`` or ``reply``."""
    if op not in OPERATIONS or kind not in ("request", "reply"):
        raise KeyError(f"no schema for {op}.{kind}")
    return _load(REPLY_SCHEMAS[op] if kind == "reply" else f"{op}.request.json")


@cache
def _validator(op: str, kind: str) -> Any:
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - a requirement of the collection
        raise SmsmseError(
            "OPTION_INVALID", "The Python package 'jsonschema' is missing on the controller: pip install jsonschema."
        ) from None
    wire_schema = _load("wire.json")
    return jsonschema.Draft202012Validator(schema_refs.inline(schema(op, kind), {wire_schema["$id"]: wire_schema}))


@cache
def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return loaded


def wire() -> dict[str, Any]:
    """The wire constants (``schemas/agent/wire.json``): names and limits both agents use, as an apply request's ``wire``.

    Each is the ``const`` of its property in the schema, so the schema is the one place they live.
    """
    properties = _load("wire.json")["properties"]
    values: dict[str, Any] = {name: spec["const"] for name, spec in properties.items() if "const" in spec}
    values["limits"] = {name: spec["const"] for name, spec in properties["limits"]["properties"].items()}
    return values


def problems(op: str, kind: str, document: object, limit: int = 5) -> list[str]:
    """Where ``document`` breaks the schema, as ``$.path: message`` lines (at most ``limit``)."""
    found = []
    for error in sorted(_validator(op, kind).iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        found.append(f"{where}: {_short(error.message)}")
        if len(found) >= limit:
            break
    return found


def _short(message: str, width: int = 200) -> str:
    return message if len(message) <= width else message[: width - 3] + "..."


class StepCode(StrEnum):
    """The codes of an agent's step report (docs/changes.md, "Codes") the controller acts on; read through
    :func:`step_code` and compared as members, never as text."""

    BAD_REQUEST = "BAD_REQUEST"
    NOT_CONFIGURED = "NOT_CONFIGURED"


def step_code(report: Mapping[str, object]) -> StepCode | None:
    """The :class:`StepCode` of a step report, or None: no code, or one the controller does not act on."""
    code = report.get("code")
    return next((member for member in StepCode if member.value == code), None)


def check_reply(op: str, reply: object) -> dict[str, Any]:
    """Return ``reply`` if it matches the contract, else raise ``AGENT_REPLY_INVALID``."""
    found = problems(op, "reply", reply)
    if found:
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent's '{op}' reply breaks the contract: " + "; ".join(found) + ".")
    if not isinstance(reply, dict):  # the schema demands an object; this guards against a schema bug
        raise SmsmseError("AGENT_REPLY_INVALID", f"The agent's '{op}' reply is not an object.")
    return reply


def check_request(op: str, request: _Request) -> _Request:
    """Return ``request`` if it matches the contract; a mismatch is a bug in the controller."""
    found = problems(op, "request", request)
    if found:
        raise AssertionError(f"the controller built a bad '{op}' request: " + "; ".join(found))
    return request


def warm() -> None:
    """Build every operation's validators now (and import ``jsonschema``), so that forked workers inherit them."""
    try:
        for op in OPERATIONS:
            for kind in ("request", "reply"):
                _validator(op, kind).is_valid({})
    except SmsmseError:  # jsonschema is missing: the first check says so, with the fix
        return


warm()
