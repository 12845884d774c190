from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import layout, product
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import StoreRecord
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
    assert all("efintions" in p.lower() for spellings in layout.SEED_SPELLINGS.values() for p in spellings)


def test_candidates_are_distinct_in_table_order_misspellings_last() -> None:
    assert layout.candidates("csapi") == [
        r"%CommonProgramFiles%\Symantec Shared\definitions\AntiVirus\VirusDefs",
        r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus\VirusDefs",
        r"%CommonProgramFiles(x86)%\Symantec Shared\definitions\AntiVirus",
        r"%CommonProgramFiles(x86)%\Symantec Shared\defintions\AntiVirus",
    ]
    assert layout.candidates("hawking")[-1] == r"%ProgramData%\Symantec\Defintions\VirusDefs"
    assert len(layout.candidates("smsmse_hawking")) == 2


CSAPI_2003, CSAPI_2008 = layout.LAYOUTS["windows2003_x64"]["csapi"] or "", layout.LAYOUTS["windows2008"]["csapi"] or ""
HAWKING_TYPO = layout.SEED_SPELLINGS["hawking"][0]


def test_choose_prefers_the_host_platform_then_table_order() -> None:
    hawking = layout.candidates("hawking")
    assert layout.choose("hawking", "windows2008", hawking[1:]) == layout.LAYOUTS["windows2008"]["hawking"]
    assert layout.choose("hawking", "windows2003_x64", hawking[:2]) == hawking[1]
    assert layout.choose("csapi", "windows2008", [CSAPI_2003]) == CSAPI_2003
    assert layout.choose("csapi", "windows2008", []) is None


def test_choose_never_takes_an_ancestor_of_another_candidate() -> None:
    # issue 13, layout: on a 2008 server where the 2003 child folder exists, the parent was chosen
    both = [CSAPI_2008, CSAPI_2003]
    assert layout.choose("csapi", "windows2008", both) == CSAPI_2003
    assert layout.choose("csapi", "windows2008", both, holding=both) == CSAPI_2003
    # decided on the host's expanded paths, as NTFS compares them
    paths = {
        CSAPI_2008: "C:\\Program Files (x86)\\Common Files\\Symantec Shared\\definitions\\AntiVirus\\",
        CSAPI_2003: "c:/program files (x86)/common files/symantec shared/definitions/antivirus/virusdefs",
    }
    assert layout.choose("csapi", "windows2008", both, holding=both, paths=paths) == CSAPI_2003
    # a sibling whose name only starts like the other is no ancestor
    sibling = {CSAPI_2008: r"C:\Defs", CSAPI_2003: r"C:\Defs2"}
    assert layout.choose("csapi", "windows2008", both, holding=both, paths=sibling) == CSAPI_2008
    # NTFS compares names one character for one: C:\Straße is not C:\STRASSE, so neither is an ancestor
    strasse = {CSAPI_2008: "C:\\Stra\u00dfe", CSAPI_2003: "C:\\STRASSE\\VirusDefs"}
    assert layout.choose("csapi", "windows2008", both, holding=both, paths=strasse) == CSAPI_2008


def test_choose_prefers_the_candidate_that_holds_definitions() -> None:
    both = [CSAPI_2008, CSAPI_2003]
    # an empty child folder does not take the store away from the parent that holds the sets
    assert layout.choose("csapi", "windows2008", both, holding=[CSAPI_2008]) == CSAPI_2008
    assert layout.choose("csapi", "windows2003_x64", both, holding=[CSAPI_2008]) == CSAPI_2008
    typo = layout.SEED_SPELLINGS["csapi"][0]
    assert layout.choose("csapi", "windows2008", [CSAPI_2008, typo], holding=[typo]) == typo


def test_choose_takes_the_misspelling_last() -> None:
    real = layout.LAYOUTS["windows2008"]["hawking"] or ""
    assert layout.choose("hawking", None, [HAWKING_TYPO, real]) == real
    assert layout.choose("hawking", "windows2008", [HAWKING_TYPO]) == HAWKING_TYPO


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
    event_ids = described["event_ids"]
    assert described["scheme"] == scheme and event_ids is not None
    assert tuple(event_ids.values()) == ids
    assert list(event_ids) == ["rollback", "no_valid", "init_failed"]
    assert described["self_verifies"] is verifies


@pytest.mark.parametrize(
    ("version", "scheme", "ids", "verifies", "basis"),
    [
        ("7.0.1", "6.5", (399, 400, 401), True, {"event_ids": "inferred", "self_verifies": "vendor"}),
        ("7.5.2.41", "6.5", (399, 400, 401), True, {"event_ids": "inferred", "self_verifies": "vendor"}),
        ("7.9.2", "6.5", (399, 400, 401), True, {"event_ids": "inferred", "self_verifies": "vendor"}),
        ("8.0", "6.5", (399, 400, 401), True, {"event_ids": "inferred", "self_verifies": "vendor"}),
        ("8.0.1.105", "6.5", (399, 400, 401), True, {"event_ids": "inferred", "self_verifies": "vendor"}),
        ("6.5.8", "6.5", (399, 400, 401), True, {"event_ids": "vendor", "self_verifies": "vendor"}),
        ("6.5.0", "6.5", (399, 400, 401), False, {"event_ids": "vendor", "self_verifies": "vendor"}),
        ("6.0.12", "6.0", (393, 394, 395), True, {"event_ids": "vendor", "self_verifies": "vendor"}),
        ("6.0.11", "6.0", (393, 394, 395), False, {"event_ids": "vendor", "self_verifies": "vendor"}),
    ],
)
def test_every_version_has_a_line(version: str, scheme: str, ids: tuple[int, int, int], verifies: bool, basis: dict[str, str]) -> None:
    described = product.describe(product.PRODUCT_NAME, version)
    event_ids = described["event_ids"]
    assert event_ids is not None
    assert (described["scheme"], tuple(event_ids.values()), described["self_verifies"]) == (scheme, ids, verifies)
    assert described["basis"] == basis
    if basis["event_ids"] == "inferred":
        assert "6.5.x IDs are assumed" in described["note"]


@pytest.mark.parametrize("version", ["5.0.10", "5.0", "4.6.1", "6.2.0"])
def test_versions_before_the_check_do_not_verify_and_name_no_event_ids(version: str) -> None:
    described = product.describe(product.PRODUCT_NAME, version)
    assert described["self_verifies"] is False
    assert described["event_ids"] is None
    assert described["scheme"] == "none"
    assert described["basis"]["event_ids"] == "none"
    assert "names no event IDs" in described["note"] and "failure-event check is skipped" in described["note"]


@pytest.mark.parametrize("version", ["", "unknown", None, "v8"])
def test_an_unreadable_version_is_not_guessed(version: str | None) -> None:
    described = product.describe(None, version)
    assert described["scheme"] == "unknown"
    assert described["event_ids"] is None
    assert described["self_verifies"] is None
    assert described["basis"] == {"event_ids": "unknown", "self_verifies": "unknown"}


def test_inventory_overrides_a_version_most_specific_prefix_first() -> None:
    lines = product.parse_lines(
        {
            "8": {"event_ids": {"rollback": 501, "no_valid": 502, "init_failed": 503}},
            "8.0.1": {"self_verifies": False},
            "7": {"self_verifies": False},
        }
    )
    eight = product.describe(product.PRODUCT_NAME, "8.0.1.105", lines)
    assert eight["event_ids"] == {"rollback": 501, "no_valid": 502, "init_failed": 503}
    assert eight["self_verifies"] is False
    assert eight["basis"] == {"event_ids": "inventory", "self_verifies": "inventory"}
    assert eight["scheme"] == "inventory"
    assert "product.lines '8'" in eight["note"] and "product.lines '8.0.1'" in eight["note"]
    other = product.describe(product.PRODUCT_NAME, "8.1", lines)
    assert other["self_verifies"] is True and other["basis"]["self_verifies"] == "vendor"
    assert product.describe(product.PRODUCT_NAME, "6.5.8", lines)["basis"] == {"event_ids": "vendor", "self_verifies": "vendor"}
    assert product.override_event_ids(lines) == [501, 502, 503]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["8.0"], "must be a mapping of version prefix"),
        ({"8.x": {"self_verifies": True}}, "entry '8.x' is not a version prefix"),
        ({"8": {"self_verifies": "yes"}}, "self_verifies 'yes': give true or false"),
        ({"8": {}}, "must be a mapping with `event_ids` and/or `self_verifies`"),
        ({"8": {"event_id": {}}}, "must be a mapping with `event_ids` and/or `self_verifies`"),
        ({"8": {"event_ids": {"rollback": 1, "no_valid": 2}}}, "not exactly `rollback`, `no_valid` and `init_failed`"),
        ({"8": {"event_ids": {"rollback": 1, "no_valid": 2, "init_failed": 70000}}}, "event_ids.init_failed 70000"),
        ({"8": {"event_ids": {"rollback": True, "no_valid": 2, "init_failed": 3}}}, "event_ids.rollback True"),
        ({"8": {"event_ids": {"rollback": "399", "no_valid": 2, "init_failed": 3}}}, "event_ids.rollback '399'"),
    ],
)
def test_bad_overrides_are_refused_with_the_entry_and_the_fix(given: object, says: str) -> None:
    with pytest.raises(SmsmseError) as caught:
        product.parse_lines(given)
    assert caught.value.code == "OPTION_INVALID"
    assert says in str(caught.value) and "smsmse_defs_product" in str(caught.value)


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


def test_choose_entry_reads_definitions_and_paths_from_the_probe_entries() -> None:
    def entry(template: str, path: str, *, definfo: bool = False, dirs: tuple[str, ...] = (), exists: bool = True) -> StoreRecord:
        """A store record with only the keys choose_entry reads."""
        record = {
            "template": template,
            "path": path,
            "exists": exists,
            "definfo": {"present": definfo},
            "dirs": [{"name": d} for d in dirs],
        }
        return cast(StoreRecord, record)

    parent = entry(CSAPI_2008, r"C:\CF\definitions\AntiVirus", definfo=True, dirs=("20261125.001", "VirusDefs"))
    empty_child = entry(CSAPI_2003, r"C:\CF\definitions\AntiVirus\VirusDefs")
    assert layout.choose_entry("csapi", "windows2008", [parent, empty_child]) is parent
    full_child = entry(CSAPI_2003, r"C:\CF\definitions\AntiVirus\VirusDefs", dirs=("20261125.001",))
    assert layout.choose_entry("csapi", "windows2008", [parent, full_child]) is full_child
    # a folder named like a version with other digits does not count as definitions
    odd_child = entry(CSAPI_2003, r"C:\CF\definitions\AntiVirus\VirusDefs", dirs=("2026112\uff15.001",))
    assert layout.choose_entry("csapi", "windows2008", [parent, odd_child]) is parent
    assert layout.choose_entry("csapi", "windows2008", [entry(CSAPI_2008, "C:\\x", exists=False)]) is None
