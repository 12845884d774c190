"""A Windows store others can change is refused before anything moves (review finding 5): STORE_NOT_PRIVATE."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.mailsec.smsmse.plugins.plugin_utils import errors
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract

from .test_outcome import build

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "agent"


def test_a_preflight_refused_for_privacy_fails_with_its_own_code() -> None:
    request, reply = build("lock/r=done preflight/r=refused:STORE_NOT_PRIVATE write_pointer/rc=skipped unlock/a=done")
    read = outcome.interpret(request, reply)
    assert read["failed"] and not read["changed"]
    assert read["error"]["code"] == "STORE_NOT_PRIVATE"
    assert read["msg"].startswith("STORE_NOT_PRIVATE: ") and "icacls" in read["msg"]


def test_the_code_is_documented() -> None:
    entry = errors.BY_CODE["STORE_NOT_PRIVATE"]
    assert "TrustedInstaller" in entry.meaning and "icacls" in entry.remediation


def test_a_probe_reply_may_carry_the_privacy_records() -> None:
    record = {
        "path": "C:\\ProgramData\\Symantec\\Definitions\\VirusDefs",
        "private": False,
        "problems": [
            {
                "path": "C:\\ProgramData\\Symantec\\Definitions\\VirusDefs",
                "kind": "writer",
                "account": "BUILTIN\\Users",
                "rights": "write/create files",
            }
        ],
        "error": None,
    }
    schema = json.loads((SCHEMAS / "probe.reply.json").read_text(encoding="utf-8"))
    store_properties = schema["$defs"]["store"]["properties"]
    assert store_properties["privacy"] == {"$ref": "#/$defs/privacy", "description": store_properties["privacy"]["description"]}
    assert "privacy" not in schema["$defs"]["store"]["required"], "optional: the POSIX agent does not send it"
    reply = {
        "contract": 1,
        "op": "probe",
        "agent": {"name": "defs_agent_win", "runtime": "PowerShell 5.1.17763.1, .NET 4.0.30319.42000"},
        "host": {"os": "windows", "os_version": "10.0.17763.0", "arch": "amd64", "hostname": "mail01", "env": {}},
        "product": None,
        "stores": [
            {
                "name": "csapi",
                "template": "C:\\x",
                "path": "C:\\x",
                "exists": True,
                "error": None,
                "free_bytes": 1,
                "definfo": {"present": False, "size": None, "sha256": None, "content_b64": None},
                "dirs": [],
                "files": [],
                "privacy": record,
                "quarantine_parent": {**record, "private": None, "problems": [], "error": "cannot read the permissions of C:\\: denied"},
            }
        ],
        "events": [],
        "events_error": None,
    }
    contract.check_reply("probe", reply)
