"""Fleet consensus: a clear majority of at least three hosts decides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest

from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import consensus, verify


def fleet(*digests: str, version: str = "20261125.003", store: str = "csapi") -> dict[str, dict[str, Any]]:
    return {
        f"h{i}": {"sets": [{"store": store, "version": version, "status": "good", "errors": [], "digest": d}]}
        for i, d in enumerate(digests)
    }


def minorities(hosts: Mapping[str, Mapping[str, Any]], **options: Any) -> list[consensus.Finding]:
    """The rule over hosts that carry only the keys it reads."""
    return consensus.minorities(cast(Mapping[str, verify.Verification], hosts), **options)


def apply_consensus(verification: Mapping[str, Any], found: list[consensus.Finding], host: str) -> verify.Verification:
    return verify.apply_consensus(cast(verify.Verification, verification), found, host)


def test_minority_against_a_clear_majority() -> None:
    found = minorities(fleet("a", "a", "b"))
    assert [(f.host, f.digest, f.majority_digest, f.agreeing, f.voting) for f in found] == [("h2", "b", "a", 2, 3)]
    assert found[0].as_dict()["code"] == "CONSENSUS_MINORITY"


def test_never_decided_by_fewer_than_three_hosts() -> None:
    assert minorities(fleet("a", "b")) == []
    assert minorities(fleet("a", "a", "b"), min_hosts=1) != []  # the floor of three still allows three
    assert minorities(fleet("a", "a", "b"), min_hosts=4) == []


def test_no_clear_majority_decides_nothing() -> None:
    assert minorities(fleet("a", "a", "b", "b")) == []
    assert minorities(fleet("a", "b", "c")) == []
    assert minorities(fleet("a", "a", "b"), threshold=0.7) == []
    assert len(minorities(fleet("a", "a", "a", "b"), threshold=0.7)) == 1


def test_a_host_whose_copies_disagree_abstains_but_its_odd_copy_is_marked() -> None:
    hosts = fleet("a", "a", "a")
    hosts["h0"]["sets"].append({"store": "hawking", "version": "20261125.003", "status": "good", "errors": [], "digest": "z"})
    assert minorities(hosts) == []  # h0 abstains: two votes are no quorum
    hosts["h3"] = fleet("a")["h0"]
    found = minorities(hosts)
    assert [(f.host, f.store, f.agreeing, f.voting) for f in found] == [("h0", "hawking", 3, 3)]


def test_one_vote_per_host_however_many_stores_hold_the_version() -> None:
    hosts = fleet("a", "b", "b")
    for store in ("hawking", "smsmse_hawking"):
        hosts["h0"]["sets"].append({"store": store, "version": "20261125.003", "status": "good", "errors": [], "digest": "a"})
    found = minorities(hosts)  # per copy, a would hold 3 of 5; per host, b holds 2 of 3
    assert sorted((f.host, f.store) for f in found) == [("h0", "csapi"), ("h0", "hawking"), ("h0", "smsmse_hawking")]


def unsound(digest: str) -> dict[str, Any]:
    error = {"code": "SET_MARKER_MISSING", "message": "no zdone.dat", "path": None}
    return {"store": "csapi", "version": "20261125.003", "status": "bad", "checked": "bad", "errors": [error], "digest": digest}


def test_unsound_copies_never_vote_so_the_fleet_decides() -> None:
    hosts = fleet("a", "a", "a", "truncated")
    for i in range(4):
        hosts[f"broken{i}"] = {"sets": [unsound(f"x{i}")]}
    found = minorities(hosts)  # per copy, "a" held 3 of 8 and nothing was decided
    assert [(f.host, f.digest, f.agreeing, f.voting) for f in found] == [("h3", "truncated", 3, 4)]


def test_a_copy_marked_by_a_later_rule_still_votes() -> None:
    hosts = fleet("a", "a", "a")
    differs = {"code": "SET_COPY_DIFFERS", "message": "m", "path": None}
    hosts["h0"]["sets"][0].update(status="bad", checked="good", errors=[differs])
    assert minorities({**hosts, "h3": fleet("b")["h0"]})[0].host == "h3"


def test_sets_without_digest_do_not_vote() -> None:
    assert minorities(fleet("a", "a", "")) == []


def test_threshold_bounds() -> None:
    with pytest.raises(ValueError, match="threshold"):
        minorities({}, threshold=0.3)


def test_apply_marks_the_set_and_the_active_pointer_bad() -> None:
    hosts = fleet("a", "a", "b")
    for record in hosts.values():
        record["active"] = {"csapi": {"version": "20261125.003", "status": "good", "errors": []}}
        record["newest_good"] = {"csapi": "20261125.003", "overall": "20261125.003"}
    found = minorities(hosts)
    after = apply_consensus(hosts["h2"], found, "h2")
    assert after["sets"][0]["status"] == "bad"
    assert after["sets"][0]["errors"][0]["code"] == "CONSENSUS_MINORITY"
    assert after["active"]["csapi"]["status"] == "bad"
    assert after["newest_good"] == {"overall": None}
    unmarked = apply_consensus(hosts["h0"], found, "h0")
    assert [{k: v for k, v in s.items() if k != "proof"} for s in unmarked["sets"]] == hosts["h0"]["sets"]
    assert unmarked["active"] == {"csapi": {**hosts["h0"]["active"]["csapi"], "proof": "structure"}}  # no decided vote was given
    assert unmarked["newest_good"] == hosts["h0"]["newest_good"]
