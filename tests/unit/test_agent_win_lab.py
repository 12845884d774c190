"""defs_agent_win_lab: the Windows agent's engine under Mono on a lab host, compiled once per digest into a private cache.

The runner is checked here with a small stand-in console host that speaks the engine's
protocol (one JSON object in, one out); the real engine runs in the integration tests.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.mailsec.smsmse.plugins.modules import defs_agent_win_lab as lab_agent
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab_engine

from .apply_host import slow_change

needs_mono = pytest.mark.skipif(
    shutil.which("mcs") is None or shutil.which("mono") is None, reason="mcs or mono is not installed (scripts/ensure_mcs.sh)"
)

#: a console host that answers like the engine's: the op back, the check mode, and the runtime
STAND_IN = """
using System;
namespace StandIn {
    public static class Program {
        public static int Main(string[] args) {
            string input = Console.In.ReadToEnd();
            if (input.Contains("\\"crash\\"")) { return 3; }
            if (input.Contains("\\"fail\\"")) { Console.Write("{\\"failed\\": true, \\"msg\\": \\"the store is gone\\"}"); return 0; }
            string mode = input.Contains("\\"check_mode\\": true") ? "true" : "false";
            string agent = input.Contains("\\"bare\\"") ? "" : ", \\"agent\\": {\\"name\\": \\"defs_agent_win\\"}";
            Console.Write("{\\"reply\\": {\\"op\\": \\"probe\\", \\"checked\\": " + mode + agent + "}, "
                + "\\"runtime\\": \\"Mono stand-in\\"}");
            return 0;
        }
    }
}
"""


def run_command(
    argv: list[str], cwd: str | None = None, data: str | None = None, environ_update: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """What AnsibleModule.run_command does for the module, here without a module."""
    env = {**os.environ, **(environ_update or {})}
    done = subprocess.run(argv, cwd=cwd, input=data, capture_output=True, text=True, env=env, check=False)
    return done.returncode, done.stdout, done.stderr


def pack(sources: dict[str, str]) -> dict[str, Any]:
    return {"sources": base64.b64encode(zlib.compress(json.dumps(sources).encode())).decode()}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "mailsec-smsmse" / "engine"


def test_the_controller_sends_every_csharp_source_of_the_collection() -> None:
    sent = lab_agent.unpack(lab_engine.bundle())
    shipped = sorted(p.name for p in lab_engine.SOURCES.glob("*.cs"))
    assert sorted(sent) == shipped and "StorePolicy.cs" in sent
    assert sent["StorePolicy.cs"] == (lab_engine.SOURCES / "StorePolicy.cs").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"../Evil.cs": "class X {}"}, "no plain C# file name"),
        ({"Engine.exe": "MZ"}, "no plain C# file name"),
        ({}, "non-empty"),
    ],
)
def test_sources_with_unsafe_names_are_refused(sources: dict[str, str], message: str) -> None:
    with pytest.raises(lab_agent.EngineError, match=message):
        lab_agent.unpack(pack(sources))


def test_sources_that_are_not_compressed_json_are_refused() -> None:
    with pytest.raises(lab_agent.EngineError, match="cannot be read"):
        lab_agent.unpack({"sources": base64.b64encode(b"not zlib").decode()})


def test_the_digest_follows_every_byte_of_every_file() -> None:
    one = lab_agent.digest({"A.cs": "class A {}"})
    assert one == lab_agent.digest({"A.cs": "class A {}"})
    assert one != lab_agent.digest({"A.cs": "class A { }"})
    assert one != lab_agent.digest({"B.cs": "class A {}"})


@needs_mono
def test_the_engine_is_compiled_once_per_digest(cache: Path) -> None:
    first = lab_agent.built({"StandIn.cs": STAND_IN}, run_command)
    assert Path(first).parent.parent == cache and Path(first).parent.name == lab_agent.digest({"StandIn.cs": STAND_IN})
    inode = os.stat(first).st_ino
    assert lab_agent.built({"StandIn.cs": STAND_IN}, run_command) == first and os.stat(first).st_ino == inode  # reused, not rebuilt
    changed = lab_agent.built({"StandIn.cs": STAND_IN + "\n// changed\n"}, run_command)
    assert changed != first and os.path.isfile(changed)
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == []  # no build folder left behind
    assert (cache.stat().st_mode & 0o777) == 0o700


@needs_mono
def test_a_build_that_fails_says_why_and_leaves_nothing(cache: Path) -> None:
    with pytest.raises(lab_agent.EngineError, match=r"(?s)mcs could not compile the engine .*error CS1525"):
        lab_agent.built({"Broken.cs": "class Broken { int x = ; }"}, run_command)
    assert list(cache.iterdir()) == []


def test_a_cache_others_can_write_is_refused(cache: Path) -> None:
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    with pytest.raises(lab_agent.EngineError, match=r"engine cache cannot be used: .*writable by group or others"):
        lab_agent.built({"StandIn.cs": STAND_IN}, run_command)


def test_a_cache_that_is_a_link_is_refused(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    cache.parent.mkdir(parents=True)
    cache.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(lab_agent.EngineError, match="is a link"):
        lab_agent.built({"StandIn.cs": STAND_IN}, run_command)


@needs_mono
def test_the_reply_carries_the_runtime_the_console_host_names(cache: Path) -> None:
    reply = lab_agent.run("probe", {}, True, pack({"StandIn.cs": STAND_IN}), run_command)["reply"]
    assert reply == {"op": "probe", "checked": True, "agent": {"name": "defs_agent_win", "runtime": "Mono stand-in"}}
    assert lab_agent.run("probe", {}, False, pack({"StandIn.cs": STAND_IN}), run_command)["reply"]["checked"] is False
    # an engine that leaves the agent record to its host: the console host names the Windows agent and its runtime
    reply = lab_agent.run("probe", {"x": "bare"}, False, pack({"StandIn.cs": STAND_IN}), run_command)["reply"]
    assert reply == {"op": "probe", "checked": False, "agent": {"name": "defs_agent_win", "runtime": "Mono stand-in"}}


@needs_mono
@pytest.mark.parametrize(
    ("request_", "message"), [({"x": "fail"}, "the probe operation failed: the store is gone"), ({"x": "crash"}, r"crashed \(exit 3\)")]
)
def test_an_engine_failure_or_crash_fails_the_call(cache: Path, request_: dict[str, Any], message: str) -> None:
    with pytest.raises(lab_agent.EngineError, match=message):
        lab_agent.run("probe", request_, False, pack({"StandIn.cs": STAND_IN}), run_command)


def test_without_mono_on_path_the_message_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(lab_agent.EngineError, match=r"mcs is not on PATH on this lab host: install Mono .*smsmse_defs_lab_agent to posix"):
        lab_agent.tool("mcs")


@needs_mono
def test_the_deadline_reaches_the_engine(cache: Path, tmp_path: Path) -> None:
    """deadline_seconds of the lab module is the engine's host-side deadline. A change past it is never abandoned: the
    step running (here a slow restart command) finishes, the steps after it are skipped naming the deadline, and the
    lock is released; run_liveupdate, one step bounded by its own timeout, ends with its real result."""
    store = tmp_path / "csapi"
    store.mkdir()
    request = slow_change(store)
    reply = lab_agent.run("apply", request, False, lab_engine.bundle(), run_command, deadline_seconds=1)["reply"]
    assert [s["result"] for s in reply["steps"]] == ["done", "done", "skipped", "done"], reply
    assert "deadline of 1 s on the host" in reply["steps"][2]["message"]
    assert sorted(p.name for p in store.iterdir()) == [], "the lock was released"
    slow = {"luall_candidates": [], "arguments": [], "command": ["sh", "-c", "sleep 2; echo updated"], "timeout": 60}
    lu = lab_agent.run("run_liveupdate", slow, False, lab_engine.bundle(), run_command, deadline_seconds=1)["reply"]
    assert (lu["result"], lu["exit_code"]) == ("exited", 0), lu
