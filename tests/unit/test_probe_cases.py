"""Every case of tests/contract/probe_cases.yml, through both agents on the same stores, and the controller's reading.

The POSIX agent runs in this process (defs_agent_posix.probe); the Windows agent's engine runs under mono
through its console host (tests/unit/engine.py) on the managed host. Each reply must be valid and say what
the case expects; the two replies must be the same (free space aside); the controller must read both alike.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_posix
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract, facts, snapshot
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._trust import verify

from . import engine
from .apply_host import Host, host_for


@pytest.fixture(autouse=True)
def state_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both agents of a case read and write one state folder of the case's own (XDG_CACHE_HOME): a stop record
    another run left in the account's ~/.cache is never recovered by one agent and not the other."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


CASES_FILE = Path(__file__).resolve().parents[1] / "contract" / "probe_cases.yml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))["cases"]
Agent = Callable[[dict[str, Any]], dict[str, Any]]
AGENTS: dict[str, Agent] = {
    "posix": lambda request: defs_agent_posix.with_deadline(10, lambda: defs_agent_posix.probe(request)),
    "win_engine": lambda request: engine.reply("probe", request),
}
#: cases the Windows agent's engine cannot pass yet -> the behaviour it lacks (a counted skip, never a silent pass)
PENDING_ON_ENGINE: dict[str, str] = {}
#: reply fields the POSIX agent sends and the engine does not yet -> why; left out of test_both_agents_reply_alike
FIELDS_PENDING_ON_ENGINE: dict[str, str] = {}


def store_path(host: Host, name: str) -> str:
    kind, _colon, rest = name.partition(":")
    if kind == "missing":
        return str(host.root / rest)
    if kind == "file":
        return str(host.root / rest)
    if kind == "link":
        link = host.root / f"link-{rest}"
        if not link.is_symlink():
            link.symlink_to(host.root / rest, target_is_directory=True)
        return str(link)
    return str(host.root / name)


def request_for(case: dict[str, Any], host: Host, cache: Path) -> dict[str, Any]:
    probe = case["probe"]
    stores = [{"name": "csapi" if ":" in name else name, "template": store_path(host, name)} for name in probe["stores"]]
    request = facts.probe_request(is_windows=False, stores={"csapi": "x"}, product_option=None, events_file=None, event_hours=24)
    request.update(
        stores=stores,
        product=probe.get("product"),
        events_file=str(host.root / "events.jsonl") if probe.get("events") else None,
        hashing=probe.get("hashing") and {**probe["hashing"], "cache_dir": str(cache)},
    )
    assert contract.problems("probe", "request", request) == []
    return request


def prepare(host: Host, case: dict[str, Any]) -> None:
    events = host.root / "events.jsonl"
    if case["probe"].get("events") == "fifo":
        os.mkfifo(events)
        return
    if events.exists():
        recent = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.write_text(events.read_text().replace("@recent", recent))


def rewrite_keep_mtime(path: Path) -> None:
    st = path.stat()
    data = path.read_bytes()
    path.write_bytes(bytes(b ^ 0x5A for b in data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def probe_runs(case: dict[str, Any], host: Host, agent: Agent, cache: Path) -> dict[str, Any]:
    request = request_for(case, host, cache)
    runs = case["probe"].get("runs", 1)
    reply: dict[str, Any] = {}
    for run in range(runs):
        reply = agent(request)
        if run == 0 and case["probe"].get("between"):
            rewrite_keep_mtime(host.root / case["probe"]["between"]["rewrite_keep_mtime"])
    return reply


def normalized(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply with what moves between two calls (free space) left out."""
    stores = [{**store, "free_bytes": None, **dict.fromkeys(FIELDS_PENDING_ON_ENGINE)} for store in reply["stores"]]
    return {**reply, "stores": stores, "agent": None}


def check_expect(case: dict[str, Any], host: Host, reply: dict[str, Any]) -> None:
    by_path = {store["path"]: store for store in reply["stores"]}
    for name, want in case["expect"].items():
        if name == "events":
            assert len(reply["events"]) == want, reply["events"]
            continue
        if name == "events_error":
            if isinstance(want, str):
                assert want in str(reply["events_error"]), reply["events_error"]
            else:
                assert (reply["events_error"] is not None) is want, reply["events_error"]
            continue
        if name == "product_source":
            assert reply["product"]["source"] == want
            continue
        store = by_path[store_path(host, name)]
        checks: dict[str, Callable[[dict[str, Any]], Any]] = {
            "kind": lambda s: s["kind"],
            "link": lambda s: s.get("link", False),
            "definfo": lambda s: s["definfo"].get("kind", "file") if s["definfo"]["present"] else "absent",
            "dirs": lambda s: [d["name"] for d in s["dirs"]],
            "linked": lambda s: [d["name"] for d in s["dirs"] if d["link"]],
            "hashed": lambda s: s["hash_stats"]["files_hashed"],
            "cached": lambda s: s["hash_stats"]["files_cached"],
            "usage": lambda s: "usage" in s and s["usage"]["present"] and s["usage"]["content_b64"] is not None,
            "pointer_sha256": lambda s: "any" if s["definfo"]["sha256"] is not None else None,
            "pointer_content": lambda s: "any" if s["definfo"]["content_b64"] is not None else None,
        }
        for key, value in want.items():
            if key == "same_real_path_as":
                assert store.get("real_path") is not None and store.get("real_path") == by_path[store_path(host, value)].get("real_path"), (
                    store
                )
                continue
            assert checks[key](store) == value, (name, key, store)


def verdicts(case: dict[str, Any], host: Host, reply: dict[str, Any]) -> dict[str, dict[str, str]]:
    overrides = {store["name"]: store["template"] for store in reply["stores"]}
    judged = verify.judge(snapshot.parse(reply, overrides), required_files=(), catalog=None)
    found: dict[str, dict[str, str]] = {}
    for entry in judged["sets"]:
        found.setdefault(entry["store"], {})[entry["version"]] = entry["status"]
    return found


def test_the_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    for case in CASES:
        assert set(case) <= {"name", "about", "needs", "setup", "probe", "expect", "verdicts"}, case["name"]
        assert set(case["probe"]) <= {"stores", "hashing", "product", "events", "runs", "between"}, case["name"]


def pending(case: dict[str, Any]) -> list[Any]:
    reason = PENDING_ON_ENGINE.get(case["name"])
    return [pytest.mark.skip(reason=f"pending on the engine: {reason}")] if reason else []


def test_every_pending_case_exists() -> None:
    assert sorted(set(PENDING_ON_ENGINE) - {case["name"] for case in CASES}) == []


CASES_BY_AGENT = [pytest.param(case, "posix", id=f"{case['name']}-posix") for case in CASES] + [
    pytest.param(case, "win_engine", id=f"{case['name']}-win_engine", marks=[engine.needs_mono, *pending(case)]) for case in CASES
]


@pytest.mark.parametrize(("case", "agent"), CASES_BY_AGENT)
def test_case(case: dict[str, Any], agent: str, tmp_path: Path) -> None:
    with host_for(case, tmp_path) as host:
        prepare(host, case)
        reply = probe_runs(case, host, AGENTS[agent], host.root / f"cache-{agent}")
        assert contract.problems("probe", "reply", reply) == []
        assert reply["agent"]["name"] == {"posix": "defs_agent_posix", "win_engine": "defs_agent_win"}[agent]
        check_expect(case, host, reply)
        if "verdicts" in case:
            assert verdicts(case, host, reply) == case["verdicts"]
        assert host.decoys == host.root / "decoys" and (host.root / "decoys").is_dir()


@engine.needs_mono
@pytest.mark.parametrize("case", [pytest.param(case, id=case["name"], marks=pending(case)) for case in CASES])
def test_both_agents_reply_alike(case: dict[str, Any], tmp_path: Path) -> None:
    """One host, probed by each agent in turn (each with its own cache): the replies are the same."""
    with host_for(case, tmp_path) as host:
        prepare(host, case)
        replies = {}
        for name, agent in AGENTS.items():
            replies[name] = normalized(probe_runs(case, host, agent, host.root / f"cache-{name}"))
            if case["probe"].get("between"):
                shutil.rmtree(host.root / f"cache-{name}", ignore_errors=True)
                return  # a case that changes the host between runs is compared by its expectations only
        assert differences(replies["win_engine"], replies["posix"]) == []


def differences(got: Any, want: Any, where: str = "$") -> list[str]:
    """Where two replies differ, as paths into them (at most 20)."""
    if isinstance(got, dict) and isinstance(want, dict):
        found = [f"{where}.{key}: only in one" for key in sorted(set(got) ^ set(want))]
        for key in sorted(set(got) & set(want)):
            found += differences(got[key], want[key], f"{where}.{key}")
        return found[:20]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (a, b) in enumerate(zip(got, want)) for d in differences(a, b, f"{where}[{i}]")][:20]
    return [] if got == want and type(got) is type(want) else [f"{where}: {got!r} != {want!r}"]


def test_the_comparison_finds_a_deliberate_difference() -> None:
    """A difference between the agents' replies is found and named (what test_both_agents_reply_alike relies on)."""
    posix = {"stores": [{"dirs": [{"files": [{"mtime": 1.5, "sha256": "a" * 64, "link": False}]}]}]}
    win = {"stores": [{"dirs": [{"files": [{"mtime": 1.5, "sha256": "b" * 64, "link": 0}]}]}]}
    assert differences(win, posix) == [
        "$.stores[0].dirs[0].files[0].link: 0 != False",
        f"$.stores[0].dirs[0].files[0].sha256: {'b' * 64!r} != {'a' * 64!r}",
    ]
    assert differences(posix, posix) == []
