"""A host with no good set asks a distribution point for the catalogued versions it lacks, newest first: a version the
point does not hold (or holds altered) sends it to the next older one, any other refusal ends that source."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._decide import decide
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import store_view
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run import health_run
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._run.health_sources import from_sources

POINT = "https://defs.example.com/smsmse"
CATALOGUED = ("20261201.003", "20261201.002", "20261201.001", "20261130.001", "20261129.001")


class Point:
    """A distribution point that refuses each version with the code given for it (None: a failure with no error)."""

    def __init__(self, codes: Mapping[str, str | None]) -> None:
        self.codes = codes
        self.asked: list[str] = []

    def fetch(self, source: str, version: str, stores: Mapping[str, store_view.StoreView]) -> Mapping[str, object]:
        assert source == POINT
        self.asked.append(version)
        code = self.codes[version]
        failed = {"failed": True, "changed": False, "msg": f"{code}: {version}", "version": version}
        return {**failed, "error": {"code": code, "message": f"{code} for {version}", "path": None}} if code else failed


def sources_of(point: Point) -> tuple[tuple[health_run.Judged, str] | None, str, health_run.Progress]:
    judged = health_run.Judged(
        smsmse_defs={"verification": {"sets": [{"version": "20261201.001", "store": "hawking", "status": "good"}]}},
        stores={},
        decision=decide.Decision(decide.LIVEUPDATE, "No good set exists."),
        checks=[],
    )
    opts = health_run.Options(
        mode="enforce",
        max_age_days=7,
        keep=2,
        quarantine=True,
        repair_hawking=False,
        liveupdate=False,
        today=dt.date(2026, 12, 2),
        sources=(POINT,),
        catalogued=CATALOGUED,
    )
    never = health_run.Agent(apply=lambda _steps: {}, liveupdate=lambda: {}, reverify=lambda: {}, fetch=point.fetch)
    progress = health_run.Progress("the run")
    healed, why = from_sources("h", {}, judged, opts, progress, agent=never, fleet=health_run.Fleet())
    return healed, why, progress


def test_a_version_the_point_lacks_or_holds_altered_sends_it_to_the_next_older_one() -> None:
    point = Point(dict.fromkeys(CATALOGUED, "SOURCE_NOT_FOUND") | {"20261201.002": "SOURCE_MISMATCH"})
    healed, why, progress = sources_of(point)
    assert healed is None
    # 20261201.001 the host holds good: never asked; at most three versions are asked of one source
    assert point.asked == ["20261201.003", "20261201.002", "20261130.001"]
    assert [a["version"] for a in progress.actions] == point.asked
    assert [a["result"] for a in progress.actions] == ["failed", "failed", "failed"]
    assert why.startswith("No source yielded a good set: ") and "SOURCE_MISMATCH: 20261201.002" in why


def test_any_other_refusal_ends_the_source() -> None:
    for code in ("SOURCE_UNREACHABLE", None):
        point = Point(dict.fromkeys(CATALOGUED, code))
        healed, why, _progress = sources_of(point)
        assert healed is None
        assert point.asked == ["20261201.003"], code
        assert why == f"{code}: 20261201.003"
