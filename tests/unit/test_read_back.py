"""A staged set goes live only as read back from the store (issue 19, critical; both agents).

An antivirus filter may clean or cut a file right after it is written: the digest computed while
copying is that of the bytes read from the source, not of what landed. The POSIX agent's stage reads
the landed files back and compares them with the manifest; the Windows agent's engine does the same
(tests/unit/csharp/EngineTests.cs: stage_reads_back_what_landed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, set_copy
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome

from .apply_host import host_for

CASE: dict[str, Any] = {
    "name": "filter_cleans_a_staged_file",
    "setup": {"hawking": {"sets": ["20261125.003"]}, "csapi": {"sets": ["20261123.001"], "definfo": "20261123.001"}},
    "steps": [
        {"op": "lock", "store": "csapi", "args": {"stale_seconds": 900}},
        {
            "op": "stage",
            "store": "csapi",
            "args": {"source": "@path:hawking/20261125.003", "name": ".smsmse-staging-20261125.003-r1", "manifest": "@set:20261125.003"},
        },
        {"op": "rename", "store": "csapi", "args": {"from": ".smsmse-staging-20261125.003-r1", "to": "20261125.003"}},
        {
            "op": "write_pointer",
            "store": "csapi",
            "commit": True,
            "args": {"content_b64": "@definfo:20261125.003", "expect_sha256": "@digest:20261123.001"},
        },
        {"op": "unlock", "store": "csapi", "required": False, "always": True, "args": {}},
    ],
}


def test_a_file_cleaned_after_it_was_written_stops_the_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = set_copy.copy_file

    def filtered(source: str, target: str, hasher: Any) -> tuple[int, str]:
        result = copy(source, target, hasher)
        if target.endswith("virscan1.dat"):
            Path(target).write_bytes(b"cleaned")  # what an antivirus filter leaves
        return result

    monkeypatch.setattr(set_copy, "copy_file", filtered)
    with host_for(CASE, tmp_path) as host:
        request = host.request(CASE["steps"])
        reply = {"contract": 1, "op": "apply", **apply.run(request)}
        assert [(s["result"], s["code"]) for s in reply["steps"]] == [
            ("done", None),
            ("failed", "READ_BACK_MISMATCH"),
            ("skipped", None),
            ("skipped", None),
            ("done", None),
        ]
        assert sorted(p.name for p in (host.root / "csapi").iterdir()) == ["20261123.001", "definfo.dat"]
        read = outcome.interpret(request, reply)
        assert read["failed"] and not read["changed"]
