"""Windows detection on the controller: the product, version, install folder and service from the agent's raw listing."""

from __future__ import annotations

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, installed, layout, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.probe_reply import InstalledListing, ServiceRecord, UninstallRecord

SMSMSE_75 = r"C:\Program Files\Symantec\SMSMSE\7.5\Server"
SMSMSE_80 = r"D:\Apps\Symantec\SMSMSE\8.0\Server"
SEP_BIN = r'"C:\Program Files\Symantec\Symantec Endpoint Protection\14.3.558.0000.105\Bin'


def entry(view: str, key: str, name: str, version: str, location: str) -> UninstallRecord:
    return {"view": view, "key": key, "display_name": name, "display_version": version, "install_location": location}


def service(name: str, display: str, path: str, state: str = "Running") -> ServiceRecord:
    return {"name": name, "display_name": display, "binary_path": path, "state": state}


#: a Windows Server 2019 Exchange server with SEP 14 and SMSMSE 7.5, as the registry and the service list show it
SERVER_2019: InstalledListing = {
    "uninstall": [
        entry(
            "64",
            "{F2A0C3B1-6C24-4E4B-9F6E-0A8C1B8A7E51}",
            "Symantec Endpoint Protection",
            "14.3.558.0000",
            r"C:\Program Files\Symantec\Symantec Endpoint Protection\\",
        ),
        entry(
            "64", "{3F1D8B6A-2C7E-4B1F-A0F5-77D2E0C6B9A4}", "Symantec Mail Security for Microsoft Exchange", "7.5.2.41", SMSMSE_75 + "\\"
        ),
        entry(
            "64",
            "{8C4E1F0A-93B2-4D5C-B6A7-1E2F3A4B5C6D}",
            "Symantec Mail Security for Microsoft Exchange Management Console",
            "7.5.2.41",
            r"C:\Program Files\Symantec\SMSMSE\7.5\Console",
        ),
        entry(
            "32",
            "{C5E2B4A1-0D3F-4E6A-8B9C-2D1E0F3A4B5C}",
            "LiveUpdate 3.3 (Symantec Corporation)",
            "3.3.203.41",
            r"C:\Program Files (x86)\Symantec\LiveUpdate\\",
        ),
    ],
    "services": [
        service(
            "SepMasterService",
            "Symantec Endpoint Protection",
            SEP_BIN
            + r'\ccSvcHst.exe" /s "SMC" /m "%ProgramFiles%\Symantec\Symantec Endpoint Protection\14.3.558.0000.105\Bin\SmcService.dll"',
        ),
        service("LiveUpdate", "LiveUpdate", r"C:\PROGRA~2\Symantec\LIVEUP~1\LUCOMS~1.EXE", "Stopped"),
        service("SAVFMSESpamStatsManager", "Symantec Mail Security Spam Stats Manager", f'"{SMSMSE_75}\\SAVFMSESpamStatsManager.exe"'),
        service("SMSMSE", "Symantec Mail Security for Microsoft Exchange", f'"{SMSMSE_75}\\SMSMSE.exe"'),
    ],
}

#: Windows Server 2022 with SMSMSE 8.0 installed to another drive, without SEP (no Hawking store), a renamed service
SERVER_2022: InstalledListing = {
    "uninstall": [
        entry(
            "32", "SMSMSE_OLD", "Symantec Mail Security for Microsoft Exchange", "6.5.8.123", r"C:\Program Files (x86)\Symantec\SMSMSE\6.5"
        ),
        entry(
            "64", "{0E7C2A9B-5D4F-4C3E-8A1B-6F2E9D0C7B3A}", "Symantec Mail Security for Microsoft Exchange (x64)", "8.0.1.105", SMSMSE_80
        ),
    ],
    "services": [
        service("SymMailSec", "Symantec Mail Security for Microsoft Exchange", SMSMSE_80 + r"\SMSMSE.exe -service"),
        service(
            "SMSMSE",
            "Symantec Mail Security for Microsoft Exchange (old)",
            r'"C:\Program Files (x86)\Symantec\SMSMSE\6.5\SMSMSE.exe"',
            "Stopped",
        ),
    ],
}


def test_the_2019_server_s_product_and_service() -> None:
    found = installed.detect(SERVER_2019)
    assert found is not None
    assert (found["name"], found["version"]) == ("Symantec Mail Security for Microsoft Exchange", "7.5.2.41")
    assert found["install_folder"] == SMSMSE_75 + "\\"
    assert found["service"] == {
        "name": "SMSMSE",
        "state": "Running",
        "binary_path": f'"{SMSMSE_75}\\SMSMSE.exe"',
        "basis": "install_folder",
    }
    assert found["service_candidates"] == ["SMSMSE", "SAVFMSESpamStatsManager"]  # SEP's and LiveUpdate's are not under it
    assert "{3F1D8B6A" in found["source"] and "64-bit view" in found["source"]


def test_the_2022_server_takes_the_64_bit_entry_and_its_renamed_service() -> None:
    found = installed.detect(SERVER_2022)
    assert found is not None
    assert found["version"] == "8.0.1.105" and found["install_folder"] == SMSMSE_80
    assert found["service"]["name"] == "SymMailSec"  # an unquoted path with arguments, under the install folder
    assert installed.service_to_restart(None, found) == "SymMailSec"
    assert installed.service_to_restart("SMSMSE", found) == "SMSMSE"  # service_name overrides


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("Symantec Mail Security for Microsoft Exchange", True),
        ("symantec mail security for microsoft exchange (x64)", True),
        ("Symantec Mail Security for Microsoft Exchange 8.0", True),
        ("Symantec Mail Security for Microsoft Exchange Management Console", False),
        ("Symantec Mail Security for Microsoft Exchangeserver", False),
        ("Symantec Mail Security for SMTP", False),
    ],
)
def test_only_the_product_s_own_display_name_counts(name: str, verdict: bool) -> None:
    assert installed.is_product(name) is verdict


def test_no_product_no_folder_no_service() -> None:
    nothing = installed.detect({"uninstall": SERVER_2019["uninstall"][:1], "services": SERVER_2019["services"]})
    assert nothing is not None and nothing["name"] is None and nothing["service"] is None
    no_folder = installed.detect(
        {"uninstall": [entry("64", "k", "Symantec Mail Security for Microsoft Exchange", "7.9", "")], "services": SERVER_2019["services"]}
    )
    assert no_folder is not None and no_folder["install_folder"] is None and no_folder["service"] is None
    assert installed.service_to_restart(None, no_folder) == "SMSMSE"
    assert installed.detect(None) is None


@pytest.mark.parametrize(
    ("path", "program"),
    [
        (r'"C:\Program Files\Symantec\SMSMSE\7.5\Server\SMSMSE.exe"', r"C:\Program Files\Symantec\SMSMSE\7.5\Server\SMSMSE.exe"),
        (r"C:\Program Files\Symantec\SMSMSE\8.0\Server\SMSMSE.exe -service", r"C:\Program Files\Symantec\SMSMSE\8.0\Server\SMSMSE.exe"),
        (r"C:\Windows\system32\svchost.exe -k netsvcs", r"C:\Windows\system32\svchost.exe"),
        ("", None),
        ("no program here", None),
    ],
)
def test_the_program_of_a_service(path: str, program: str | None) -> None:
    assert installed.executable(path) == program


def test_a_sibling_folder_with_the_same_start_is_not_under_the_install_folder() -> None:
    services = [installed.Service("Evil", "", r"C:\Program Files\Symantec\SMSMSE\7.5\ServerTools\x.exe", "Running")]
    assert installed.services_under(SMSMSE_75, services) == []
    assert [
        s.name for s in installed.services_under(SMSMSE_75.upper() + "\\", [installed.Service("S", "", SMSMSE_75 + r"\a.exe", "Running")])
    ] == ["S"]


@pytest.mark.parametrize(
    ("os_version", "server"),
    [("6.3.9600", "2012 R2"), ("10.0.14393", "2016"), ("10.0.17763", "2019"), ("10.0.20348", "2022"), ("10.0.26100", "2025")],
)
def test_today_s_servers_use_the_programdata_layout_with_the_others_tried(os_version: str, server: str) -> None:
    host = {"os": "windows", "os_version": os_version, "arch": "amd64"}
    assert layout.platform_for(host) == "windows2008", server
    request = facts.probe_request(is_windows=True, stores=None, product_option=None, events_file=None, event_hours=24)
    templates = {s["template"] for s in request["stores"]}
    assert {layout.LAYOUTS[p][n] for p in layout.LAYOUTS for n in layout.STORE_NAMES} - {None} <= templates


def test_the_facts_of_a_probe_with_the_listing() -> None:
    reply = {
        "contract": 1,
        "op": "probe",
        "agent": {"name": "defs_agent_win", "runtime": "PowerShell 5.1.20348.1, .NET 4.0.30319.42000"},
        "host": {"os": "windows", "os_version": "10.0.20348.0", "arch": "amd64", "hostname": "MAIL22", "env": {}},
        "product": {"name": "Symantec Mail Security for Microsoft Exchange", "version": "6.5.8.123", "source": "the agent's own pick"},
        "installed": SERVER_2022,
        "stores": [],
        "events": [],
        "events_error": None,
    }
    assert contract.problems("probe", "reply", reply) == []
    built = facts.build(snapshot.parse(reply, {}))
    assert built["product"]["version"] == "8.0.1.105" and built["product"]["self_verifies"] is True
    service = built["product"]["service"]
    assert built["product"]["install_folder"] == SMSMSE_80 and service is not None and service["name"] == "SymMailSec"
    assert built["platform"] == "windows2008"


def test_a_change_restarts_the_detected_service_unless_service_name_says_otherwise() -> None:
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import change
    from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.option_types import ContextOptions

    found = installed.detect(SERVER_2022)
    options: ContextOptions = {
        "restart_service": True,
        "service_name": None,
        "restart_command": None,
        "lock_stale_seconds": 900,
        "events_file": None,
    }
    detected = change.context(options, True, found).restart
    assert detected is not None and detected.service == "SymMailSec"
    given = change.context({**options, "service_name": "SMSMSE"}, True, found).restart
    assert given is not None and given.service == "SMSMSE"
    unknown = change.context(options, True, None).restart
    assert unknown is not None and unknown.service == "SMSMSE"
