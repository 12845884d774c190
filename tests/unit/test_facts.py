"""From probe replies to facts: selection of stores, parsing, and distrust of what the host sends."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, layout, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils.errors import SmsmseError

TODAY = dt.date(2026, 11, 26)
DEFINFO = b"[DefDates]\r\nCurDefs=20261125.001\r\nLastDefs=20261124.001\r\n"


def definfo(data: bytes | None) -> dict[str, Any]:
    if data is None:
        return {"present": False, "size": None, "sha256": None, "content_b64": None}
    return {"present": True, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "content_b64": base64.b64encode(data).decode()}


def folder(name: str, marker: bool = True, link: bool = False) -> dict[str, Any]:
    files = [{"path": "virscan1.dat", "size": 100, "mtime": 1.0, "link": False}]
    if marker:
        files.append({"path": "zdone.dat", "size": 6, "mtime": 1.0, "link": False})
    return {"name": name, "link": link, "mtime": 1.0, "files": [] if link else files, "truncated": False}


def store(
    name: str, template: str, exists: bool = True, data: bytes | None = DEFINFO, dirs: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    path = template.replace("%ProgramData%", r"C:\ProgramData").replace("%CommonProgramFiles(x86)%", r"C:\Program Files (x86)\Common Files")
    return {
        "name": name,
        "template": template,
        "path": path,
        "exists": exists,
        "error": None,
        "free_bytes": 10**9 if exists else None,
        "definfo": definfo(data) if exists else definfo(None),
        "dirs": (dirs if dirs is not None else [folder("20261124.001"), folder("20261125.001")]) if exists else [],
        "files": [],
    }


def windows_reply(stores: list[dict[str, Any]], version: str = "6.5.8.12") -> dict[str, Any]:
    reply = {
        "contract": 1,
        "op": "probe",
        "agent": {"name": "defs_agent_win", "runtime": "PowerShell 5.1.17763.1, .NET 4.0.30319.42000"},
        "host": {"os": "windows", "os_version": "10.0.17763.0", "arch": "amd64", "hostname": "MAIL01", "env": {}},
        "product": {"name": "Symantec Mail Security for Microsoft Exchange", "version": version, "source": "HKLM\\..."},
        "stores": stores,
        "events": [{"id": 399, "time": "2026-11-26T10:00:00Z", "message": "authenticity check failed"}],
        "events_error": None,
    }
    assert contract.problems("probe", "reply", reply) == []
    return reply


def all_candidates(existing: set[str]) -> list[dict[str, Any]]:
    return [store(name, t, exists=t in existing) for name in layout.STORE_NAMES for t in layout.candidates(name)]


def test_windows_2008_layout_is_detected() -> None:
    w2008 = layout.LAYOUTS["windows2008"]
    existing = {w2008["hawking"], w2008["smsmse_hawking"], w2008["csapi"], layout.LAYOUTS["windows2003_x64"]["csapi"]}
    stores = all_candidates({p for p in existing if p})
    # the 2003 CSAPI folder exists below the 2008 one, empty: the store is the parent that holds the sets
    child = next(s for s in stores if s["template"] == layout.LAYOUTS["windows2003_x64"]["csapi"])
    child.update(definfo=definfo(None), dirs=[])
    result = facts.build(snapshot.parse(windows_reply(stores), {}), today=TODAY)
    assert result["platform"] == "windows2008"
    assert result["agent"] == {"name": "defs_agent_win", "runtime": "PowerShell 5.1.17763.1, .NET 4.0.30319.42000"}
    assert result["stores"]["csapi"]["template"] == w2008["csapi"]
    assert result["stores"]["csapi"]["path"] == r"C:\Program Files (x86)\Common Files\Symantec Shared\definitions\AntiVirus"
    assert result["stores"]["csapi"]["active"] == "20261125.001"
    assert result["stores"]["csapi"]["last"] == "20261124.001"
    assert result["stores"]["csapi"]["active_exists"] is True
    assert [s["version"] for s in result["stores"]["hawking"]["sets"]] == ["20261124.001", "20261125.001"]
    assert result["newest"] == "20261125.001"
    assert result["product"]["scheme"] == "6.5" and result["product"]["self_verifies"] is True
    assert result["events"][0]["meaning"].startswith("Virus definitions authenticity check failed")


def test_the_child_folder_that_holds_the_sets_wins_over_its_parent() -> None:
    # issue 13, layout: the parent was chosen whenever the child existed, and the child's files hashed twice
    w2008, w2003 = layout.LAYOUTS["windows2008"]["csapi"] or "", layout.LAYOUTS["windows2003_x64"]["csapi"] or ""
    stores = all_candidates({w2008, w2003})
    parent = next(s for s in stores if s["template"] == w2008)
    parent.update(definfo=definfo(None), dirs=[folder("VirusDefs")])
    result = facts.build(snapshot.parse(windows_reply(stores), {}), today=TODAY)
    assert result["stores"]["csapi"]["template"] == w2003


def test_store_absent_everywhere_is_left_out() -> None:
    w2008 = layout.LAYOUTS["windows2008"]
    result = facts.build(
        snapshot.parse(windows_reply(all_candidates({w2008["smsmse_hawking"] or "", w2008["csapi"] or ""})), {}), today=TODAY
    )
    assert sorted(result["stores"]) == ["csapi", "smsmse_hawking"]


def test_sets_are_classified() -> None:
    dirs = [
        folder("20261125.001"),
        folder("20261124.001", marker=False),
        folder("20261301.001"),
        folder("20991231.001"),
        folder(".smsmse-staging-20261125.001"),
        folder("tmp1234"),
        folder("BinHub"),
        folder("20261123.001", link=True),
    ]
    reply = windows_reply([store("csapi", r"D:\defs", dirs=dirs)])
    result = facts.build(snapshot.parse(reply, {"csapi": r"D:\defs"}), today=TODAY)
    csapi = result["stores"]["csapi"]
    assert [(s["version"], s["complete"], s["link"]) for s in csapi["sets"]] == [
        ("20261123.001", False, True),
        ("20261124.001", False, False),
        ("20261125.001", True, False),
    ]
    assert csapi["sets"][2]["files"] == 2 and csapi["sets"][2]["bytes"] == 106
    assert [i["name"] for i in csapi["invalid"]] == ["20261301.001", "20991231.001"]
    assert "not a calendar date" in csapi["invalid"][0]["reason"]
    assert [(d["name"], d["kind"]) for d in csapi["other_dirs"]] == [
        (".smsmse-staging-20261125.001", "staging"),
        ("tmp1234", "temporary"),
        ("BinHub", "other"),
    ]


def test_no_definfo_means_no_active_set() -> None:
    result = facts.build(snapshot.parse(windows_reply([store("csapi", r"D:\defs", data=None)]), {"csapi": r"D:\defs"}), today=TODAY)
    assert result["stores"]["csapi"]["active"] is None
    assert result["stores"]["csapi"]["active_exists"] is False


def test_malformed_definfo_names_file_and_line() -> None:
    reply = windows_reply([store("csapi", r"D:\defs", data=b"[DefDates]\r\nCurDefs=20261125.001\r\ngarbage\r\n")])
    with pytest.raises(SmsmseError) as caught:
        facts.build(snapshot.parse(reply, {"csapi": r"D:\defs"}), today=TODAY)
    assert caught.value.code == "DEFINFO_MALFORMED"
    assert caught.value.path == r"D:\defs\definfo.dat"
    assert str(caught.value).startswith(r"DEFINFO_MALFORMED: D:\defs\definfo.dat line 3: cannot read 'garbage'")


def test_oversized_definfo_is_an_error() -> None:
    entry = store("csapi", r"D:\defs")
    entry["definfo"] = {"present": True, "size": 10**6, "sha256": None, "content_b64": None}
    with pytest.raises(SmsmseError, match="DEFINFO_TOO_LARGE"):
        facts.build(snapshot.parse(windows_reply([entry]), {"csapi": r"D:\defs"}), today=TODAY)


@pytest.mark.parametrize("field", ["sha256", "size", "content_b64"])
def test_definfo_that_disagrees_with_its_digest_is_refused(field: str) -> None:
    entry = store("csapi", r"D:\defs")
    forged = {"sha256": "0" * 64, "size": 3, "content_b64": base64.b64encode(b"[X]\r\n").decode()}
    entry["definfo"][field] = forged[field]
    with pytest.raises(SmsmseError, match="AGENT_REPLY_INVALID"):
        facts.build(snapshot.parse(windows_reply([entry]), {"csapi": r"D:\defs"}), today=TODAY)


def test_override_that_does_not_exist() -> None:
    with pytest.raises(SmsmseError, match=r"STORE_NOT_FOUND: The csapi store 'D:\\defs' does not exist"):
        facts.build(snapshot.parse(windows_reply([store("csapi", r"D:\defs", exists=False)]), {"csapi": r"D:\defs"}), today=TODAY)


def test_unreadable_store_fails() -> None:
    entry = store("csapi", r"D:\defs")
    entry["error"] = "UnauthorizedAccessException: Access denied"
    with pytest.raises(SmsmseError, match=r"STORE_UNREADABLE: .*Access denied"):
        facts.build(snapshot.parse(windows_reply([entry]), {"csapi": r"D:\defs"}), today=TODAY)


def test_posix_needs_stores() -> None:
    with pytest.raises(SmsmseError, match="STORES_REQUIRED"):
        facts.probe_request(is_windows=False, stores=None, product_option=None, events_file=None, event_hours=72)


def test_windows_request_lists_every_candidate_and_ignores_posix_options() -> None:
    request = facts.probe_request(
        is_windows=True,
        stores={"csapi": r"D:\defs", "hawking": None},
        product_option={"version": "6.5.8"},
        events_file="/x",
        event_hours=24,
    )
    contract.check_request("probe", request)
    templates = [(s["name"], s["template"]) for s in request["stores"]]
    assert ("csapi", r"D:\defs") in templates
    assert [t for n, t in templates if n == "csapi"] == [r"D:\defs"]
    hawking = [t for n, t in templates if n == "hawking"]
    assert len(hawking) == 4 and hawking[-1] == layout.SEED_SPELLINGS["hawking"][0]
    assert request["product"] is None and request["events_file"] is None
    assert 404 in request["event_ids"] and request["event_hours"] == 24


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("host", "os"), "plan9", "$.host.os"),
        (("stores", 0, "dirs", 0, "files", 0, "size"), -1, "$.stores[0].dirs[0].files[0].size"),
        (("stores", 0, "definfo", "sha256"), "ZZ", "$.stores[0].definfo.sha256"),
        (("events", 0, "time"), "yesterday", "$.events[0].time"),
        (("contract",), 2, "$.contract"),
    ],
)
def test_contract_names_where_a_reply_breaks(path: tuple[Any, ...], value: Any, where: str) -> None:
    reply = copy.deepcopy(windows_reply([store("csapi", r"D:\defs")]))
    target: Any = reply
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(SmsmseError) as caught:
        contract.check_reply("probe", reply)
    assert caught.value.code == "AGENT_REPLY_INVALID"
    assert f"{where}: " in str(caught.value)


def test_contract_rejects_extra_fields() -> None:
    reply = windows_reply([store("csapi", r"D:\defs")])
    reply["stores"][0]["shell"] = "rm -rf /"
    assert contract.problems("probe", "reply", reply) == ["$.stores[0]: Additional properties are not allowed ('shell' was unexpected)"]


def test_a_windows_8_host_verifies_with_the_6_5_ids_and_says_they_are_inferred() -> None:
    w2008 = layout.LAYOUTS["windows2008"]
    stores = all_candidates({p for p in (w2008["smsmse_hawking"], w2008["csapi"]) if p})
    result = facts.build(snapshot.parse(windows_reply(stores, version="8.0.1.105"), {}), today=TODAY)
    assert result["product"]["self_verifies"] is True
    assert result["product"]["event_ids"] == {"rollback": 399, "no_valid": 400, "init_failed": 401}
    assert result["product"]["basis"] == {"event_ids": "inferred", "self_verifies": "vendor"}
    overridden = facts.build(
        snapshot.parse(windows_reply(stores, version="8.0.1.105"), {}),
        today=TODAY,
        lines=facts.product_lines({"lines": {"8.0": {"event_ids": {"rollback": 501, "no_valid": 502, "init_failed": 503}}}}),
    )
    assert overridden["product"]["event_ids"] == {"rollback": 501, "no_valid": 502, "init_failed": 503}
    assert overridden["product"]["basis"]["event_ids"] == "inventory"


def test_the_probe_reads_the_event_ids_an_override_names_and_refuses_a_bad_one_before_the_host() -> None:
    lines = {"8": {"event_ids": {"rollback": 501, "no_valid": 502, "init_failed": 503}}}
    request = facts.probe_request(is_windows=True, stores=None, product_option={"lines": lines}, events_file=None, event_hours=24)
    contract.check_request("probe", request)
    assert {399, 401, 501, 502, 503} <= set(request["event_ids"])
    with pytest.raises(SmsmseError, match="OPTION_INVALID"):
        facts.probe_request(
            is_windows=True, stores=None, product_option={"lines": {"8": {"self_verifies": "maybe"}}}, events_file=None, event_hours=24
        )
