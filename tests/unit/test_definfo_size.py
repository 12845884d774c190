"""definfo.dat of any size gets a stable answer (issue 21): too large is a bad pointer enforce replaces, never "run again"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import scan
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from .test_health_run import Host, run, versions


@pytest.mark.parametrize("size", [100 << 10, scan.MAX_DEFINFO_HASH + 1, 40 << 20])
def test_an_oversized_pointer_is_replaced_by_enforce(lab_factory: Callable[..., Path], size: int) -> None:
    host = Host(lab_factory(lab.LabHost("h")), "h")
    pointer = host.root / "csapi" / "definfo.dat"
    with open(pointer, "wb") as handle:
        handle.write(b"[DefDates]\r\nCurDefs=" + versions()[-1].encode() + b"\r\n")
        handle.truncate(size)
    verified = host.verified()
    problems = [e for s in [verified["ansible_facts"]["smsmse_defs"]["verification"]["active"]["csapi"]] for e in s["errors"]]
    assert [p["code"] for p in problems] == ["DEFINFO_TOO_LARGE"]
    assert f"{size} bytes, more than the 65536 bytes any real definfo.dat holds" in problems[0]["message"], "the limit is named"
    record = run(host)["record"]
    assert "CHANGE_CONFLICT" not in record["message"] and record["status"] != "failed", record["message"]
    assert pointer.stat().st_size < 1024, "enforce wrote a real definfo.dat"
    assert host.active() == versions()[-1]
    again = run(host)["record"]
    assert again["status"] == "compliant", again["message"]
