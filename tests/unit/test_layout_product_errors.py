from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import layout, product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import BY_CODE, REGISTRY, SmsmseError
from ansible_collections.mailsec.smsmse.scripts import error_table

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("host", "platform"),
    [
        ({"os": "windows", "arch": "x86", "os_version": "5.2.3790.0"}, "x86"),
        ({"os": "windows", "arch": "x86", "os_version": "6.1.7601.0"}, "x86"),
        ({"os": "windows", "arch": "amd64", "os_version": "5.2.3790.0"}, "windows2003_x64"),
        ({"os": "windows", "arch": "amd64", "os_version": "6.0.6002.0"}, "windows2008"),
        ({"os": "windows", "arch": "amd64", "os_version": "10.0.17763.0"}, "windows2008"),
        ({"os": "linux", "arch": "x86_64", "os_version": "6.1"}, None),
    ],
)
def test_platform_of_host(host: dict[str, str], platform: str | None) -> None:
    assert layout.platform_for(host) == platform


def test_layout_is_the_vendor_table_without_its_typo() -> None:
    assert layout.LAYOUTS["windows2008"]["csapi"] == r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus"
    assert layout.LAYOUTS["windows2008"]["hawking"] == r"%ProgramData%\Symantec\Definitions\VirusDefs"
    assert layout.LAYOUTS["x86"]["smsmse_hawking"] is None
    every_path = [p for row in layout.LAYOUTS.values() for p in row.values() if p]
    assert not [p for p in every_path if "efintions" in p.lower()]


def test_candidates_are_distinct_in_table_order() -> None:
    assert layout.candidates("csapi") == [
        r"%CommonProgramFiles%\Symantec Shared\definitions\AntiVirus\VirusDefs",
        r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus\VirusDefs",
        r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus",
    ]
    assert len(layout.candidates("smsmse_hawking")) == 2


def test_choose_prefers_the_host_platform_then_table_order() -> None:
    both = layout.candidates("csapi")[1:]
    assert layout.choose("csapi", "windows2008", both) == both[1]
    assert layout.choose("csapi", "windows2003_x64", both) == both[0]
    assert layout.choose("csapi", "windows2008", [both[0]]) == both[0]
    assert layout.choose("csapi", "windows2008", []) is None


@pytest.mark.parametrize(
    ("version", "scheme", "ids", "verifies"),
    [
        ("6.5.8.123", "6.5", (399, 400, 401), True),
        ("6.5.1", "6.5", (399, 400, 401), True),
        ("6.5.0.3", "6.5", (399, 400, 401), False),
        ("6.0.12", "6.0", (393, 394, 395), True),
        ("6.0.11.9", "6.0", (393, 394, 395), False),
        ("6.0", "6.0", (393, 394, 395), False),
    ],
)
def test_product_scheme(version: str, scheme: str, ids: tuple[int, int, int], verifies: bool) -> None:
    described = product.describe(product.PRODUCT_NAME, version)
    assert described["scheme"] == scheme
    assert tuple(described["event_ids"].values()) == ids
    assert list(described["event_ids"]) == ["rollback", "no_valid", "init_failed"]
    assert described["self_verifies"] is verifies


@pytest.mark.parametrize("version", ["7.0.1", "5.0.10", "", "unknown", None])
def test_unknown_scheme_is_not_guessed(version: str | None) -> None:
    described = product.describe(None, version)
    assert described["scheme"] == "unknown"
    assert described["event_ids"] is None
    assert described["self_verifies"] is None


def test_event_meanings() -> None:
    assert "successful" in product.event_meaning(30)
    assert "CSAPI" in product.event_meaning(25)
    assert "older than" in product.event_meaning(404)
    assert product.event_meaning(399) == product.event_meaning(393)
    assert product.event_meaning(12345) == "not an event this collection knows"


def test_error_codes_are_unique_and_complete() -> None:
    codes = [entry.code for entry in REGISTRY]
    assert len(codes) == len(set(codes))
    for entry in REGISTRY:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", entry.code)
        assert entry.meaning.endswith(".") and entry.remediation.endswith(".")


def test_error_table_in_docs_matches_registry() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert text == error_table.render(), "docs/errors.md is stale: run python scripts/error_table.py"
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \|", text, flags=re.MULTILINE)
    assert rows == [e.code for e in REGISTRY]


def test_error_message_carries_the_fix() -> None:
    error = SmsmseError("STORE_NOT_FOUND", "The csapi store '/x' does not exist.", path="/x")
    assert str(error) == f"STORE_NOT_FOUND: The csapi store '/x' does not exist. Fix: {BY_CODE['STORE_NOT_FOUND'].remediation}"
    assert error.as_dict() == {"code": "STORE_NOT_FOUND", "message": "The csapi store '/x' does not exist.", "path": "/x"}
