"""The Windows agent's engine (plugins/module_utils/SmsmseEngine*.cs) under mono, through its console host.

Built once per test run with the build command every user of the console host shares; each call
runs one operation on the managed host (ordinary folders) and returns what the console host wrote.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
UTILS = ROOT / "plugins" / "module_utils"
KILL_BEFORE_DOUBLE = Path(__file__).resolve().parent / "csharp" / "KillBefore.cs"
FILTER_DOUBLE = Path(__file__).resolve().parent / "csharp" / "FilterAfterLanding.cs"
MCS = shutil.which("mcs")
MONO = shutil.which("mono")
BUILD = ("-langversion:5", "-warnaserror", "-nologo", "-r:System.dll", "-r:System.Core.dll")

needs_mono = pytest.mark.skipif(MCS is None or MONO is None, reason="mcs or mono is not installed (scripts/ensure_mcs.sh)")


@functools.cache
def executable() -> Path:
    """The console host, compiled from every C# file of module_utils (as the lab builds it)."""
    assert MCS is not None, "mcs is not installed (scripts/ensure_mcs.sh)"
    out = Path(tempfile.mkdtemp(prefix="smsmse-engine-")) / "smsmse-engine.exe"
    done = subprocess.run(
        [MCS, *BUILD, f"-out:{out}", *map(str, sorted(UTILS.glob("*.cs")))], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _double(source: Path, main: str, name: str) -> Path:
    """A double of the console host: the engine's sources with ``source``, whose class ``main`` is the entry point."""
    assert MCS is not None, "mcs is not installed (scripts/ensure_mcs.sh)"
    out = Path(tempfile.mkdtemp(prefix="smsmse-engine-")) / name
    sources = [*map(str, sorted(UTILS.glob("*.cs"))), str(source)]
    done = subprocess.run([MCS, *BUILD, f"-main:{main}", f"-out:{out}", *sources], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@functools.cache
def killing_executable() -> Path:
    """The crash tests' double of the console host (tests/unit/csharp/KillBefore.cs): the engine as the console host
    runs it, killed right before the step its input's ``kill_before`` names. The engine itself has no such switch."""
    return _double(KILL_BEFORE_DOUBLE, "KillBeforeDouble.Program", "kill-before.exe")


@functools.cache
def filtering_executable() -> Path:
    """The case table's double of the console host (tests/unit/csharp/FilterAfterLanding.cs): the engine as the console
    host runs it, on a host whose antivirus filter removes the file its input's ``filter.removes`` names from a staging
    folder right after the engine wrote and closed it. The engine itself has no such switch."""
    return _double(FILTER_DOUBLE, "FilterDouble.Program", "filter-after-landing.exe")


def call(
    op: str,
    request: Mapping[str, Any],
    *,
    check_mode: bool = False,
    env: dict[str, str] | None = None,
    deadline_seconds: int | None = None,
    kill_before: int | None = None,
    filter_removes: str | None = None,
) -> dict[str, Any]:
    """What the console host writes for one operation: {"reply", "runtime"} or {"failed", "msg"}; with ``kill_before``
    (a step's index from 0), what its crash double gives: {"crashed", "stderr"} when it was killed there; with
    ``filter_removes`` (a file name), what its filter double gives (an antivirus filter removes that file from a staging
    folder once it is written)."""
    assert MONO is not None
    message: dict[str, Any] = {"op": op, "check_mode": check_mode, "request": request}
    if deadline_seconds is not None:
        message["deadline_seconds"] = deadline_seconds
    assert kill_before is None or filter_removes is None, "one double at a time"
    if kill_before is not None:
        message["kill_before"] = kill_before
    if filter_removes is not None:
        message["filter"] = {"removes": filter_removes}
    program = killing_executable() if kill_before is not None else filtering_executable() if filter_removes is not None else executable()
    payload = json.dumps(message)
    done = subprocess.run(
        [MONO, str(program)],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**isolated(), **(env or {})},
    )
    if done.returncode != 0:
        return {"crashed": done.returncode, "stderr": done.stderr}
    assert done.stdout.strip(), f"the console host exited 0 and wrote nothing; stderr: {done.stderr!r}"
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


@functools.cache
def session_cache() -> str:
    """The engine's cache and state folder (XDG_CACHE_HOME) for this test session: never the account's own
    ~/.cache, where stop records other runs left (the lab, a demo, a killed engine) would be recovered here."""
    return tempfile.mkdtemp(prefix="smsmse-engine-cache-")


def isolated() -> dict[str, str]:
    """The environment of an engine run: the test's own, with XDG_CACHE_HOME this session's unless the test set one."""
    found = dict(os.environ)
    found.setdefault("XDG_CACHE_HOME", session_cache())
    return found


def reply(op: str, request: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The engine's reply; a failure of the whole call fails the test with the console host's message."""
    out = call(op, request, **kwargs)
    assert "reply" in out, out
    found: dict[str, Any] = out["reply"]
    return found
