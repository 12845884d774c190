"""Builds the host a case of tests/contract/apply_cases.yml describes, fills in its steps and checks the store afterwards."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from ansible_collections.mailsec.smsmse.plugins.module_utils.store_lock import boot_id, boot_time, start_token
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host.definfo import parse_definfo
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

CASES_FILE = Path(__file__).resolve().parents[1] / "contract" / "apply_cases.yml"
VERSION = re.compile(r"[0-9]{8}\.[0-9]{3}", re.ASCII)
FILES = lab.DEFAULT_FILES


def cases(path: Path = CASES_FILE) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    return loaded


def slow_change(store: Path) -> dict[str, Any]:
    """An apply request whose second step (a service start running ``sleep 2``) outlasts a deadline of 1 s: the steps a
    deadline test expects are done, done (the running step finishes), skipped (naming the deadline), done (the unlock)."""
    ops: list[dict[str, Any]] = [
        {"op": "lock", "args": {"stale_seconds": 900}},
        {"op": "service", "required": False, "args": {"action": "start", "service": "SMSMSE", "command": ["sleep", "2"], "timeout": 30}},
        {"op": "clean", "args": {}},
        {"op": "unlock", "required": False, "always": True, "args": {}},
    ]
    return {
        "wire": contract.wire(),
        "cache_dir": None,
        "steps": [{"store": str(store), "required": True, "always": False, "commit": False, **op} for op in ops],
    }


def definfo_bytes(version: str) -> bytes:
    return f"[DefDates]\r\nCurDefs={version}\r\n\r\n[Lab]\r\nBuilder=mailsec.smsmse\r\n".encode("ascii")


def true_manifest(version: str) -> dict[str, dict[str, Any]]:
    files = {name: lab.file_bytes(version, name, size) for name, size in FILES}
    files[lab.MARKER] = b"done\r\n"
    return {name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()}


def tree(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder`` (not following links): file bytes, or the link's target."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            found[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            found[rel] = path.read_bytes()
    return found


def complete(folder: Path, version: str) -> bool:
    want = {name: lab.file_bytes(version, name, size) for name, size in FILES}
    want[lab.MARKER] = b"done\r\n"
    return folder.is_dir() and not folder.is_symlink() and tree(folder) == want


def current(store: Path) -> str | None:
    try:
        return parse_definfo((store / "definfo.dat").read_bytes()).cur_defs
    except FileNotFoundError:
        return None


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(done.stdout)


def other_volume_root(tmp: Path) -> Path | None:
    """A fresh folder on another file system than ``tmp`` (/dev/shm), or None."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat(tmp).st_dev:
        return None
    return Path(tempfile.mkdtemp(prefix="smsmse-test-", dir=shm))


def chattr_works(tmp: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    probe = tmp / "chattr-probe"
    probe.write_bytes(b"x")
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True, check=False).returncode:
        return False
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    probe.unlink()
    return True


def write_lock(path: Path, kind: str) -> None:
    record: dict[str, Any] = {
        "pid": os.getpid(),
        "started": start_token(os.getpid()),
        "host": socket.gethostname(),
        "boot_id": boot_id(),
        "created": time.time(),
        "token": kind,
    }
    if kind == "dead":
        record["pid"] = dead_pid()
    elif kind == "reused_pid":  # this live process's PID, in a lock that names another start of it
        record["started"] = "ticks:1"
    elif kind == "before_boot":  # as a host without boot IDs writes it, before the host last started
        record.update(boot_id=None, created=(boot_time() or 0.0) - 3600)
    elif kind == "huge_pid":
        record["pid"] = 1 << 40
    elif kind == "other_boot":
        record["boot_id"] = "00000000-0000-0000-0000-000000000000"
    elif kind == "foreign":
        record.update(host="another-host.example", pid=1, created=time.time() - 3600)
    path.write_text("not json {" if kind.startswith("unreadable") else json.dumps(record))
    if kind in ("foreign", "unreadable_old"):
        old = time.time() - 3600
        os.utime(path, (old, old))


class Host:
    """One case's host folder: its stores, decoys (what links lead to) and the other volume."""

    def __init__(self, root: Path, other: Path | None, url: str | None = None) -> None:
        self.root = root
        self.other = other
        #: where a loopback HTTP server serves ``root`` (needs: http)
        self.url = url
        self.decoys = root / "decoys"
        self.immutable: list[Path] = []

    def build(self, setup: dict[str, Any]) -> None:
        self.decoys.mkdir(parents=True)
        (self.decoys / "outside").mkdir()
        (self.decoys / "outside" / "keep.dat").write_bytes(b"never follow a link here")
        (self.decoys / "keep.tmp").write_bytes(b"a file a link leads to")
        for rel, content in (setup.get("files") or {}).items():
            (self.root / rel).write_text(content)
        for name, state in setup.items():
            if name != "files":
                self._store(self.root / name, state)
        self.decoys_before = tree(self.decoys)

    def _store(self, store: Path, state: dict[str, Any]) -> None:
        store.mkdir(parents=True)
        for version in state.get("sets", []):
            lab.write_set(store, version, FILES)
        for version in state.get("corrupt", []):
            target = store / version / FILES[0][0]
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))
        for version in state.get("truncated", []):
            target = store / version / FILES[0][0]
            target.write_bytes(target.read_bytes()[:-1])
        for version in state.get("oversized", []):
            target = store / version / FILES[0][0]
            target.write_bytes(target.read_bytes() + b"\0")
        if state.get("definfo"):
            (store / "definfo.dat").write_bytes(definfo_bytes(state["definfo"]))
        if state.get("usage") is not None:
            (store / "usage.dat").write_bytes(state["usage"].encode("utf-8"))
        for name, version in (state.get("links") or {}).items():
            lab.write_set(self.decoys, version, FILES)
            (store / name).symlink_to(self.decoys / version, target_is_directory=True)
        for name, kind in (state.get("leftovers") or {}).items():
            path = store / name
            if kind == "dir":
                path.mkdir()
                (path / "half.dat").write_bytes(b"half")
            elif kind == "file":
                path.write_bytes(b"half")
            elif kind.startswith("set:"):
                lab.write_set(self.root / "written", kind[4:], FILES).rename(path)
            elif kind == "fifo":
                os.mkfifo(path)
            elif kind == "pointer_huge":  # larger than any digest is taken of (16 MiB), sparse
                with open(path, "wb") as handle:
                    handle.write(definfo_bytes("20261123.001"))
                    handle.truncate((16 << 20) + 1)
            elif kind.startswith("pointer_utf16:"):
                _kind, cur, last = kind.split(":")
                path.write_bytes(f"[DefDates]\r\nCurDefs={cur}\r\nLastDefs={last}\r\n".encode("utf-16"))
            else:
                target = self.decoys / ("keep.tmp" if name.endswith(".tmp") else "outside")
                path.symlink_to(target, target_is_directory=target.is_dir())
        if state.get("lock"):
            write_lock(store / ".smsmse-lock", state["lock"])
        for name in state.get("immutable", []):
            path = store if name == "." else store / name
            subprocess.run(["chattr", "+i", str(path)], check=True)
            self.immutable.append(path)

    def release(self) -> None:
        for path in self.immutable:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        self.immutable.clear()

    def fill(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self.fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.fill(item) for item in value]
        if not isinstance(value, str) or not value.startswith("@"):
            return value
        kind, _colon, rest = value[1:].partition(":")
        if kind == "set":
            return true_manifest(rest)
        if kind == "path":
            return str(self.root / rest)
        if kind == "url":
            assert self.url is not None, "the case needs: [http]"
            return f"{self.url}/{rest}"
        if kind == "other_volume":
            assert self.other is not None
            return str(self.other / rest)
        if kind == "definfo":
            return base64.b64encode(definfo_bytes(rest)).decode()
        if kind == "digest":
            return hashlib.sha256(definfo_bytes(rest)).hexdigest()
        if kind == "text":
            return base64.b64encode(rest.encode("utf-8")).decode()
        if kind == "text_digest":
            return hashlib.sha256(rest.encode("utf-8")).hexdigest()
        raise AssertionError(f"unknown placeholder {value}")

    def request(self, case_steps: list[dict[str, Any]], read_back: list[str] | None = None, pad_to: int | None = None) -> steps.Request:
        """The request of ``steps``, checked against the contract; with ``pad_to``, the last step repeated until the
        request holds that many (more than the contract allows: sent unchecked, as a hostile controller would)."""
        built = [
            {
                "op": step["op"],
                "store": str(self.root / step["store"]),
                "required": step.get("required", True),
                "always": step.get("always", False),
                "commit": step.get("commit", False),
                "args": self.fill(step["args"]),
            }
            for step in case_steps
        ]
        request: dict[str, Any] = {"wire": contract.wire(), "cache_dir": str(self.root / "cache"), "steps": built}
        if read_back is not None:
            request["read_back"] = [str(self.root / name) for name in read_back]
        if pad_to is not None:
            request["steps"] = built + [dict(built[-1]) for _padding in range(pad_to - len(built))]
            return cast(steps.Request, request)
        return cast(steps.Request, contract.check_request("apply", request))

    def check_read(self, request: Mapping[str, Any], reply: dict[str, Any], want: dict[str, Any]) -> None:
        """The reply's read_back against a case's ``read``: one record per store asked, in the request's order."""
        read = reply.get("read_back")
        if "read_back" not in request:
            assert read is None and not want
            return
        assert read is not None and [r["store"] for r in read] == request["read_back"]
        records = {Path(r["store"]).name: r for r in read}
        for name, expected in want.items():
            record = records[name]
            active = record["active"]
            assert (active or {}).get("name") == expected["active"], record
            if "kind" in expected:
                assert active is not None and active["kind"] == expected["kind"], record
            if "pointer_kind" in expected:
                assert record["definfo"]["kind"] == expected["pointer_kind"], record
            if "sets" in expected:
                assert [s["name"] for s in record["sets"]] == expected["sets"], record
            if "unread_files" in expected:  # listed without a digest (a special file is never opened)
                assert sorted(f["path"] for f in active["files"] if f.get("sha256") is None) == expected["unread_files"], record
            if "true_files" in expected:
                listed = {f["path"]: {"size": f["size"], "sha256": f["sha256"]} for f in active["files"]}
                assert listed == true_manifest(expected["true_files"]), record

    def check_after(self, after: dict[str, Any]) -> None:
        for name, want in after.items():
            if name == "quarantined":
                folders = [self.root / "quarantine", *([self.other / "quarantine"] if self.other else [])]
                assert sum(len(list(f.iterdir())) for f in folders if f.is_dir()) == want
                continue
            store = self.root / name
            entries = sorted(p.name for p in store.iterdir())
            if "definfo" in want:
                assert current(store) == want["definfo"]
            if "sets" in want:
                assert [e for e in entries if VERSION.fullmatch(e)] == want["sets"]
            if "leftovers" in want:
                assert [e for e in entries if e.startswith(".smsmse-") and e != ".smsmse-lock"] == want["leftovers"]
            if "lock" in want:
                assert (store / ".smsmse-lock").exists() is want["lock"]
            if "usage" in want:
                assert (store / "usage.dat").read_bytes().decode("utf-8") == want["usage"]
            if "complete" in want:
                assert complete(store / want["complete"], want["complete"]), f"{want['complete']} is not complete"
        assert tree(self.decoys) == self.decoys_before, "a link was followed: what it leads to changed"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real distribution point

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_folder(root: Path) -> http.server.ThreadingHTTPServer:
    """An HTTP server of ``root`` on 127.0.0.1 and a free port, in a thread (shut it down when done)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@contextmanager
def host_for(case: dict[str, Any], tmp: Path) -> Iterator[Host]:
    needs = set(case.get("needs", []))
    if "fifo" in needs and not hasattr(os, "mkfifo"):
        pytest.skip("this host has no named pipes in its file system")
    if "chattr" in needs and not chattr_works(tmp):
        pytest.skip("chattr +i (an immutable file, read-only even for root) is not available here")
    other = other_volume_root(tmp) if "other_volume" in needs else None
    if "other_volume" in needs and other is None:
        pytest.skip("no second file system here: /dev/shm is missing or on the same device as the test folder")
    if "other_boot" in json.dumps(case["setup"]) and boot_id() is None:
        pytest.skip("this host has no boot ID to compare")
    if "before_boot" in json.dumps(case["setup"]) and boot_time() is None:
        pytest.skip("this host does not say when it last started")
    host = Host(tmp / "host", other)
    server = None
    try:
        host.build(case["setup"])
        if "http" in needs:
            server = serve_folder(host.root)
            host.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield host
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        host.release()
        if other is not None:
            shutil.rmtree(other, ignore_errors=True)
