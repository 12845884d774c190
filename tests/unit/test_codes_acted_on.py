"""The codes the controller's control flow acts on are typed members, each one a code the tables define."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import error_codes
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ("plugins/action", "plugins/plugin_utils", "plugins/filter")
#: a quoted code compared (``== "SOME_CODE"``, ``"SOME_CODE" != x``, ``is "SOME_CODE"``, ``in "SOME_CODE"``)
COMPARED = re.compile(r"""(?:[!=]=|\bis(?: not)?|\bin)\s*["'][A-Z][A-Z0-9]*_[A-Z0-9_]+["']|["'][A-Z][A-Z0-9]*_[A-Z0-9_]+["']\s*[!=]=""")


def test_each_code_acted_on_is_registered() -> None:
    assert {member.value for member in error_codes.Code} <= set(error_codes.BY_CODE)


def test_each_step_code_acted_on_is_one_the_agents_document() -> None:
    table = set(re.findall(r"(?m)^\| `([A-Z_]+)` +\|", (ROOT / "docs" / "changes.md").read_text(encoding="utf-8")))
    assert {member.value for member in contract.StepCode} <= table


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": "CHANGE_UNKNOWN", "message": "m"}, error_codes.Code.CHANGE_UNKNOWN),
        ({"code": "CHANGE_FAILED", "message": "m"}, None),
        ({"message": "no code"}, None),
        (None, None),
        ("CHANGE_UNKNOWN", None),
    ],
)
def test_code_of_reads_an_error_record(error: object, expected: error_codes.Code | None) -> None:
    assert error_codes.code_of(error) is expected


def test_step_code_reads_a_step_report() -> None:
    assert contract.step_code({"result": "failed", "code": "BAD_REQUEST"}) is contract.StepCode.BAD_REQUEST
    assert contract.step_code({"result": "failed", "code": "SET_IN_USE"}) is None
    assert contract.step_code({"result": "done"}) is None


def test_no_control_flow_compares_the_text_of_a_code() -> None:
    """A code is compared as a member of Code or StepCode, never as a quoted code (``x == "SOME_CODE"``)."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for folder in CONTROLLER
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if COMPARED.search(line)
    ]
    assert found == []


@pytest.mark.parametrize(
    "line",
    ['if report.get("code") == "BAD_REQUEST":', 'made = code != "CHANGE_UNKNOWN"', "if 'SOURCE_TLS' == code:"],
)
def test_the_text_comparison_check_sees_one(line: str) -> None:
    assert COMPARED.search(line)
