"""Sets dated in the future or on impossible dates (issue 21): bad sets, sorted apart, quarantined, reported; never a crash."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import versions

from .test_health_run import TODAY, Host, run

FUTURE = (TODAY + dt.timedelta(days=30)).strftime("%Y%m%d") + ".001"
IMPOSSIBLE = "20261331.001"


@pytest.mark.parametrize("name", [FUTURE, IMPOSSIBLE])
def test_a_source_set_that_cannot_be_ordered_is_quarantined_and_named(lab_factory: Callable[..., Path], name: str) -> None:
    host = Host(lab_factory(lab.LabHost("h", version="6.0.10")), "h")
    lab.write_set(host.root / "smsmse_hawking", name)  # whole and well formed: only its name is wrong
    ran = run(host)
    record = ran["record"]
    assert "unexpectedly" not in record["message"], record["message"]
    assert name not in {p.name for p in (host.root / "smsmse_hawking").iterdir()}, "enforce moved it out of the source store"
    quarantined = host.root / "mailsec-smsmse-quarantine"
    assert any(p.name.endswith(f"-{name}-" + p.name.rsplit("-", 1)[-1]) for p in quarantined.iterdir())
    repair = next(a for a in record["actions"] if a["action"] == "repair_source")
    assert repair["result"] == "done" and name in repair["message"]


@pytest.mark.parametrize("name", [FUTURE, IMPOSSIBLE])
def test_report_mode_names_the_set_and_plans_its_quarantine(lab_factory: Callable[..., Path], name: str) -> None:
    host = Host(lab_factory(lab.LabHost("h", version="6.0.10")), "h")
    lab.write_set(host.root / "smsmse_hawking", name)
    record = run(host, mode="report")["record"]
    assert record["status"] == "drift"
    assert any(name in str(c.get("actual")) for c in record["checks"] if c["id"] == "hawking_newest_good" and c["status"] == "fail")
    assert [a["action"] for a in record["actions"]] == ["repair_source"]


def test_sort_key_puts_unorderable_names_after_every_version() -> None:
    names = [FUTURE, "20261123.001", IMPOSSIBLE, "20261122.009"]
    ordered = sorted(names, key=versions.sort_key)
    assert ordered[:2] == ["20261122.009", "20261123.001"]
    assert set(ordered[2:]) == {FUTURE, IMPOSSIBLE}
