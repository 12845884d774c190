"""The fetch step against servers that misbehave: silent, slow, redirecting, endless, failing TLS, and a real nginx.

The table of ordinary cases is the fetch part of tests/contract/apply_cases.yml (both agents); here are the cases that
need a server of their own. Every server listens on 127.0.0.1 only. Each refusal must name the source, leave nothing of
the set in the store, and come before the deadline.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import os
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from ansible_collections.mailsec.smsmse.plugins.module_utils import apply, fetch, hashing
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import HashCache
from ansible_collections.mailsec.smsmse.plugins.module_utils.primitives import Context
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._change import outcome, steps
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._host import contract
from ansible_collections.mailsec.smsmse.plugins.plugin_utils._lab import lab

from . import engine
from .apply_host import FILES, complete, true_manifest

VERSION = "20261125.003"
STAGING = f".smsmse-staging-{VERSION}-t1"


def fetch_request(store: Path, source: str, **overrides: Any) -> steps.Request:
    args = {
        "source": source,
        "name": STAGING,
        "manifest": true_manifest(VERSION),
        "timeout_seconds": 2,
        "deadline_seconds": 30,
        "validate_certs": True,
        "ca_path": None,
        **overrides,
    }
    step = {"op": "fetch", "store": str(store), "required": True, "always": False, "commit": False, "args": args}
    return cast(steps.Request, contract.check_request("apply", {"wire": contract.wire(), "cache_dir": None, "steps": [step]}))


def run_fetch(store: Path, source: str, agent: str = "posix", **overrides: Any) -> dict[str, Any]:
    request = fetch_request(store, source, **overrides)
    reply = {"contract": 1, "op": "apply", **apply.run(request)} if agent == "posix" else engine.reply("apply", request)
    assert contract.problems("apply", "reply", reply) == []
    assert outcome.interpret(request, reply)["changed"] is False
    report: dict[str, Any] = reply["steps"][0]
    return report


def set_bytes() -> dict[str, bytes]:
    files = {name: lab.file_bytes(VERSION, name, size) for name, size in FILES}
    files[lab.MARKER] = b"done\r\n"
    return files


class Behaviour(http.server.BaseHTTPRequestHandler):
    """Serves the true set under /dp/<version>/, unless the server's ``mode`` says otherwise."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        body = (self.server.files or set_bytes()).get(name)
        mode = self.server.mode
        if mode == "silent":
            time.sleep(5)
            return
        if mode == "redirect_other_host":
            self._redirect(f"http://localhost:{self.server.server_address[1]}{self.path}")
            return
        if mode == "redirect_same_origin" and self.path.startswith("/old/"):
            self._redirect(self.path.replace("/old/", "/dp/", 1))
            return
        if mode == "status_500":
            self._send(500, b"broken")
            return
        if body is None:
            self._send(404, b"not found")
            return
        if mode == "endless" and name == FILES[0][0]:
            self._endless()
            return
        if mode == "huge_length" and name == FILES[0][0]:
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self._endless()
            return
        if mode == "superscript_length":
            self.send_response(200)
            self.send_header("Content-Length", "\u00b2")  # Latin-1 superscript two: str.isdigit() says yes, int() says no
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        if mode == "continue_forever":
            self._trickle(b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        if mode == "endless_trailer":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
            self._trickle(b"X-Trailer: more\r\n")
            return
        if mode == "slow":
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(0.2)
            return
        self._send(200, body)

    def _trickle(self, line: bytes) -> None:
        """One line every 0.25 s for 10 s: never silent for timeout_seconds, never an answer."""
        try:
            for _line in range(40):
                self.wfile.write(line)
                self.wfile.flush()
                time.sleep(0.25)
        except OSError:
            pass
        self.close_connection = True

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _endless(self) -> None:
        if self.server.mode == "endless":
            self.send_response(200)
            self.send_header("Connection", "close")  # no length: the body ends when the connection does
            self.end_headers()
        chunk = b"x" * 65536
        try:
            for _block in range(100_000):  # 6.5 GB: a reader that does not stop at the catalog's size never ends
                self.wfile.write(chunk)
                self.server.sent += len(chunk)
        except OSError:
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), Behaviour)
        self.mode = mode
        self.files: dict[str, bytes] | None = None  # served instead of the lab set
        self.requests: list[str] = []
        self.sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def serve() -> Iterator[Callable[[str], Server]]:
    started: list[Server] = []

    def start(mode: str) -> Server:
        server = Server(mode)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    folder = tmp_path / "hawking"
    folder.mkdir()
    return folder


class Fetch:
    """The fetch step through one agent: the POSIX agent in this process, or the Windows agent's engine in a mono process
    of its own; ``started`` is when the agent began, for the time bounds."""

    def __init__(self, agent: str) -> None:
        self.agent = agent
        self.started = 0.0

    def __call__(self, store: Path, source: str, **overrides: Any) -> dict[str, Any]:
        startup = engine_startup() if self.agent == "win_engine" else 0.0
        self.started = time.monotonic() + startup
        return run_fetch(store, source, self.agent, **overrides)

    def took(self) -> float:
        """Seconds since the agent (not its process) started."""
        return time.monotonic() - self.started


@functools.cache
def engine_startup() -> float:
    """How long mono takes to start the engine and answer a request that does nothing (measured once)."""
    engine.executable()
    started = time.monotonic()
    engine.call("apply", {"wire": contract.wire(), "cache_dir": None, "steps": []})
    return time.monotonic() - started


@pytest.fixture(params=["posix", pytest.param("win_engine", marks=engine.needs_mono)])
def fetcher(request: pytest.FixtureRequest) -> Fetch:
    return Fetch(request.param)


def assert_nothing_kept(store: Path) -> None:
    assert sorted(p.name for p in store.iterdir()) == []


def test_a_plain_server_delivers_the_set_in_one_connection(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("plain")
    report = fetcher(store, f"{server.url}/dp/{VERSION}")
    assert report["result"] == "done", report["message"]
    assert report["data"] == {"bytes_fetched": sum(len(b) for b in set_bytes().values()), "files_fetched": len(set_bytes())}
    assert complete(store / STAGING, VERSION)
    assert server.requests[-1].endswith("/zdone.dat"), "the marker comes last"


def test_a_redirect_within_the_origin_is_followed(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("redirect_same_origin")
    report = fetcher(store, f"{server.url}/old/{VERSION}")
    assert report["result"] == "done", report["message"]
    assert complete(store / STAGING, VERSION)


def test_a_redirect_to_another_host_is_refused(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("redirect_other_host")
    report = fetcher(store, f"{server.url}/dp/{VERSION}")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_REDIRECT")
    assert server.url in report["message"] and "localhost" in report["message"]
    assert_nothing_kept(store)


def test_a_silent_server_times_out(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("silent")
    report = fetcher(store, f"{server.url}/dp/{VERSION}", timeout_seconds=1)
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TIMEOUT")
    assert fetcher.took() < 4
    assert server.url in report["message"]
    assert_nothing_kept(store)


def test_a_slow_server_meets_the_deadline(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("slow")  # one byte every 0.2 s: never silent for timeout_seconds, far slower than the deadline
    report = fetcher(store, f"{server.url}/dp/{VERSION}", timeout_seconds=2, deadline_seconds=1)
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TIMEOUT")
    assert "deadline_seconds" in report["message"]
    assert fetcher.took() < 5
    assert_nothing_kept(store)


@pytest.mark.parametrize("mode", ["continue_forever", "endless_trailer"])
def test_a_server_trickling_lines_meets_the_deadline(serve: Callable[[str], Server], store: Path, mode: str, fetcher: Fetch) -> None:
    server = serve(mode)  # endless 100 Continue answers, or a chunked body's endless trailer: each line resets the read timeout
    report = fetcher(store, f"{server.url}/dp/{VERSION}", timeout_seconds=2, deadline_seconds=2)
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TIMEOUT")
    assert "deadline_seconds" in report["message"] and server.url in report["message"]
    assert fetcher.took() < 5
    assert_nothing_kept(store)


@pytest.mark.parametrize("mode", ["endless", "huge_length"])
def test_an_endless_file_is_cut_at_the_catalogs_size(serve: Callable[[str], Server], store: Path, mode: str, fetcher: Fetch) -> None:
    server = serve(mode)
    report = fetcher(store, f"{server.url}/dp/{VERSION}")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_MISMATCH")
    assert "larger than the catalog lists" in report["message"]
    assert_nothing_kept(store)


def test_a_content_length_of_other_digits_is_ignored(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("superscript_length")  # the body, read to the connection's end, is still checked against the catalog
    report = fetcher(store, f"{server.url}/dp/{VERSION}")
    assert report["result"] == "done", report["message"]
    assert complete(store / STAGING, VERSION)


BIG = bytes(range(256)) * (9 << 12)  # 9 MiB: several chunks of each of the two read buffers


@pytest.mark.parametrize("flipped", [False, True])
def test_a_file_larger_than_both_buffers_arrives_byte_exact_or_is_refused(
    serve: Callable[[str], Server], store: Path, flipped: bool, fetcher: Fetch
) -> None:
    server = serve("plain")
    served = bytearray(BIG)
    if flipped:
        served[len(served) // 2 + 12345] ^= 0x01  # one bit, mid-file, far from any buffer's start
    server.files = {"virscan1.dat": bytes(served), "zdone.dat": b"done\r\n"}
    manifest = {
        "virscan1.dat": {"size": len(BIG), "sha256": hashlib.sha256(BIG).hexdigest()},
        "zdone.dat": {"size": 6, "sha256": hashlib.sha256(b"done\r\n").hexdigest()},
    }
    report = fetcher(store, f"{server.url}/dp/{VERSION}", manifest=manifest)
    if flipped:
        assert (report["result"], report["code"]) == ("refused", "SOURCE_MISMATCH")
        assert "virscan1.dat" in report["message"] and "SHA-256" in report["message"]
        assert_nothing_kept(store)
        return
    assert report["result"] == "done", report["message"]
    assert (store / STAGING / "virscan1.dat").read_bytes() == BIG


def test_a_server_error_names_the_status(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("status_500")
    report = fetcher(store, f"{server.url}/dp/{VERSION}")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_UNREACHABLE")
    assert "500" in report["message"]
    assert_nothing_kept(store)


def test_a_closed_port_is_unreachable(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("plain")
    url = server.url
    server.shutdown()
    server.server_close()
    report = fetcher(store, f"{url}/dp/{VERSION}")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_UNREACHABLE")
    assert url in report["message"]
    assert_nothing_kept(store)


def test_credentials_in_the_url_are_never_echoed(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    server = serve("status_500")
    url = server.url.replace("http://", "http://user:s3cret@")
    report = fetcher(store, f"{url}/dp/{VERSION}")
    assert report["result"] == "refused"
    assert "s3cret" not in report["message"]


def test_a_file_source_reads_no_more_than_size_plus_one(tmp_path: Path, store: Path, fetcher: Fetch) -> None:
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    first = point / FILES[0][0]
    first.write_bytes(first.read_bytes() + b"\0" * (64 << 20))  # 64 MiB more than the catalog lists
    report = fetcher(store, str(point))
    assert (report["result"], report["code"]) == ("refused", "SOURCE_MISMATCH")
    assert fetcher.took() < 5
    assert_nothing_kept(store)


def test_a_folder_on_a_hung_mount_meets_the_deadline(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    hung = str(point / FILES[0][0])
    real_read = os.read

    release = threading.Event()
    hung_fds: list[int] = []

    def read(fd: int, size: int) -> bytes:
        if os.readlink(f"/proc/self/fd/{fd}") == hung:
            hung_fds.append(fd)
            release.wait(30)  # a read on a hard-mounted share whose server went away (until the test lets it go)
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", read)
    started = time.monotonic()
    report = run_fetch(store, str(point), deadline_seconds=2)
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TIMEOUT")
    assert "deadline_seconds" in report["message"] and str(point) in report["message"]
    assert time.monotonic() - started < 5
    assert_nothing_kept(store)
    # the read left running still holds its file: the number is never closed under it, so nothing opened since (a pipe
    # to a child process, a file of a later step) can take that number and have its bytes read by the stray thread
    assert hung_fds and os.readlink(f"/proc/self/fd/{hung_fds[0]}") == hung
    pipes = [os.pipe() for _pipe in range(8)]
    try:
        for _reader, writer in pipes:
            os.write(writer, b"reply")
        release.set()
        time.sleep(0.5)  # the stray read returns
        for reader, _writer in pipes:
            os.set_blocking(reader, False)
            assert real_read(reader, 64) == b"reply", "a stray read took another file's bytes"
    finally:
        release.set()
        for pair in pipes:
            for fd in pair:
                os.close(fd)


# --- HTTPS: Debian's nginx on 127.0.0.1, a CA made for the test ---


@pytest.fixture
def https_point(tmp_path: Path, https_distpoint: Callable[..., Any]) -> Any:
    root = tmp_path / "www"
    lab.write_set(root / "dp", VERSION, FILES)
    return https_distpoint(root)


def test_nginx_over_https_with_the_test_ca(https_point: Any, store: Path, fetcher: Fetch) -> None:
    report = fetcher(store, f"{https_point.url}/dp/{VERSION}", ca_path=str(https_point.pki.ca))
    assert report["result"] == "done", report["message"]
    assert complete(store / STAGING, VERSION)


def test_an_unknown_ca_is_a_tls_failure(https_point: Any, store: Path, fetcher: Fetch) -> None:
    report = fetcher(store, f"{https_point.url}/dp/{VERSION}")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TLS")
    assert https_point.url in report["message"] and "ca_path" in report["message"]
    assert_nothing_kept(store)


def test_validate_certs_false_accepts_the_certificate(https_point: Any, store: Path, fetcher: Fetch) -> None:
    report = fetcher(store, f"{https_point.url}/dp/{VERSION}", validate_certs=False)
    assert report["result"] == "done", report["message"]


def test_tls_below_1_2_is_never_offered(https_point: Any) -> None:
    assert fetch._tls_context(True, str(https_point.pki.ca)).minimum_version == ssl.TLSVersion.TLSv1_2
    assert fetch._tls_context(False, None).minimum_version == ssl.TLSVersion.TLSv1_2


# --- a proxy: the Windows agent goes through the one the request names; the POSIX agent connects directly ---


@engine.needs_mono
def test_the_windows_agent_fetches_through_the_proxy_the_request_names(serve: Callable[[str], Server], store: Path) -> None:
    proxy = serve("plain")  # an HTTP proxy is asked for the full URL (GET http://host/path): the server answers it
    unreachable = f"http://distpoint.invalid:9/dp/{VERSION}"  # no such host: only the proxy can answer
    report = run_fetch(store, unreachable, "win_engine", proxy=proxy.url)
    assert report["result"] == "done", report["message"]
    assert complete(store / STAGING, VERSION)
    assert proxy.requests and all(r.startswith("http://distpoint.invalid:9/dp/") for r in proxy.requests)


@engine.needs_mono
def test_a_malformed_proxy_fails_the_windows_fetch_naming_the_option(store: Path) -> None:
    report = run_fetch(store, f"http://127.0.0.1:1/dp/{VERSION}", "win_engine", proxy="http://proxy.example.com:99999")
    assert (report["result"], report["code"]) == ("failed", "BAD_REQUEST")
    assert "proxy 'http://proxy.example.com:99999'" in report["message"] and "http://proxy.example.com:3128" in report["message"]
    assert_nothing_kept(store)


@engine.needs_mono
def test_without_a_proxy_the_windows_agent_meets_the_host_it_cannot_resolve(store: Path) -> None:
    report = run_fetch(store, f"http://distpoint.invalid:9/dp/{VERSION}", "win_engine")
    assert (report["result"], report["code"]) == ("refused", "SOURCE_UNREACHABLE")
    assert "distpoint.invalid" in report["message"]
    assert_nothing_kept(store)


def test_the_posix_agent_refuses_a_proxy(serve: Callable[[str], Server], store: Path) -> None:
    server = serve("plain")
    request = fetch_request(store, f"{server.url}/dp/{VERSION}", proxy=server.url)
    reply = {"contract": 1, "op": "apply", **apply.run(request)}
    step = reply["steps"][0]
    assert (step["result"], step["code"]) == ("failed", "BAD_REQUEST") and "proxy" in step["message"]
    assert server.requests == [] and not (store / STAGING).exists()


def test_the_request_takes_no_proxy_with_credentials(store: Path) -> None:
    with pytest.raises(AssertionError, match="proxy"):
        fetch_request(store, f"http://127.0.0.1:1/dp/{VERSION}", proxy="http://user:s3cret@proxy.example.com:3128")


def test_a_ca_path_without_a_certificate_is_named_on_both_agents(serve: Callable[[str], Server], store: Path, fetcher: Fetch) -> None:
    """A ca_path that holds no certificate is the admin's file to fix, not a handshake that failed: both agents name
    ca_path, the file and the fix, and ask the server for nothing."""
    server = serve("plain")
    bad = store.parent / "bad-ca.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    report = fetcher(store, f"{server.url}/dp/{VERSION}", ca_path=str(bad))
    assert (report["result"], report["code"]) == ("refused", "SOURCE_TLS"), report
    assert f"ca_path {bad} holds no PEM certificate" in report["message"] and "handshake" not in report["message"], report
    assert server.requests == []
    assert_nothing_kept(store)


def test_a_fetched_file_cleaned_after_it_landed_is_refused(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What landed is read back from the store before the step ends: an antivirus filter may clean or cut a file right
    after it is written, and the digest computed while streaming is that of the bytes received, not of what landed
    (the Windows engine: SmsmseEngineFetch.cs, ReadBack)."""
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    land = fetch._land

    def filtered(chunks: Any, target: str, pools: Any) -> tuple[int, str]:
        result = land(chunks, target, pools)
        if target.endswith(FILES[1][0]):
            Path(target).write_bytes(b"cleaned")  # what an antivirus filter leaves
        return result

    monkeypatch.setattr(fetch, "_land", filtered)
    report = run_fetch(store, str(point))
    assert (report["result"], report["code"]) == ("failed", "READ_BACK_MISMATCH")
    assert FILES[1][0] in report["message"] and "antivirus" in report["message"]
    assert_nothing_kept(store)


def test_a_fetched_file_removed_after_it_landed_is_a_read_back_mismatch(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter that deletes (quarantines) a file right after it lands: the read-back names it, as for a cleaned file."""
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    land = fetch._land

    def quarantined(chunks: Any, target: str, pools: Any) -> tuple[int, str]:
        result = land(chunks, target, pools)
        if target.endswith(FILES[1][0]):
            pools.flushed()  # the filter acts once the file is closed
            os.unlink(target)
        return result

    monkeypatch.setattr(fetch, "_land", quarantined)
    report = run_fetch(store, str(point))
    assert (report["result"], report["code"]) == ("failed", "READ_BACK_MISMATCH"), report
    assert FILES[1][0] in report["message"] and "removed" in report["message"]
    assert_nothing_kept(store)


# --- the read of the stores after the last step: a file this call read back is not hashed again while unchanged ---


def _fetch_and_install(store: Path, source: str, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], list[str]]:
    """fetch, rename, pointer, and the read of the store, in one apply; the files hashed, in order."""
    hashed: list[str] = []
    stream = hashing.sha256_stream

    def counted(handle: Any, buffer: bytearray | None = None) -> tuple[str, int]:
        hashed.append(os.path.basename(handle.name if isinstance(handle.name, str) else os.readlink(f"/proc/self/fd/{handle.name}")))
        return stream(handle, buffer)

    monkeypatch.setattr(hashing, "sha256_stream", counted)
    (store / "definfo.dat").write_bytes(b"[DefDates]\r\nCurDefs=20261124.001\r\n")
    body = [
        fetch_request(store, source)["steps"][0],
        {"op": "rename", "store": str(store), "required": True, "always": False, "commit": False, "args": {"from": STAGING, "to": VERSION}},
        {
            "op": "write_pointer",
            "store": str(store),
            "required": True,
            "always": False,
            "commit": True,
            "args": {
                "content_b64": base64.b64encode(f"[DefDates]\r\nCurDefs={VERSION}\r\n".encode()).decode(),
                "expect_sha256": hashlib.sha256(b"[DefDates]\r\nCurDefs=20261124.001\r\n").hexdigest(),
            },
        },
    ]
    request = contract.check_request("apply", {"wire": contract.wire(), "cache_dir": None, "steps": body, "read_back": [str(store)]})
    reply = {"contract": 1, "op": "apply", **apply.run(request)}
    assert contract.problems("apply", "reply", reply) == []
    assert [s["result"] for s in reply["steps"]] == ["done", "done", "done"], reply["steps"]
    return reply["read_back"][0]["active"], hashed


def test_the_read_after_the_change_takes_the_digests_of_the_read_back(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every landed file is hashed once, by the fetch's read-back; the read of the store after the pointer moved takes
    that digest while the file's size, times and identity are what the read-back saw."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(hashing, "RACY_NS", 0)  # as on a kernel that stamps times to the nanosecond (below: the margin)
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    active, hashed = _fetch_and_install(store, str(point), monkeypatch)
    want = true_manifest(VERSION)
    assert active["name"] == VERSION
    assert {f["path"]: f["sha256"] for f in active["files"]} == {rel: entry["sha256"] for rel, entry in want.items()}
    assert sorted(hashed) == sorted(want), "each file hashed once after it landed"


def test_a_file_changed_after_its_read_back_is_hashed_again(tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file rewritten in place after the read-back (same size, its modification time set back) moves its change
    time: the read of the store hashes it again and shows what is there now."""
    monkeypatch.setattr(hashing, "RACY_NS", 0)  # the key is kept at once: what is shown here is that the write moves it
    point = lab.write_set(tmp_path / "dp", VERSION, FILES)
    ctx = Context(contract.wire(), None)
    report = apply.run_step(ctx, dict(fetch_request(store, str(point))["steps"][0]), None, 2048)
    assert report["result"] == "done", report["message"]
    path = store / STAGING / FILES[0][0]
    before = os.stat(path)
    cache = HashCache(str(tmp_path / "cache"), str(store), True, landed=ctx.landed)
    assert cache.digest(str(path), before) == true_manifest(VERSION)[FILES[0][0]]["sha256"]
    assert cache.stats["files_hashed"] == 0
    changed = bytes(b ^ 0xFF for b in path.read_bytes())
    time.sleep(0.01)
    path.write_bytes(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    again = HashCache(str(tmp_path / "cache"), str(store), True, landed=ctx.landed)
    assert again.digest(str(path), after) == hashlib.sha256(changed).hexdigest()
    assert again.stats["files_hashed"] == 1


def test_a_file_read_back_within_a_clock_tick_of_its_last_write_is_hashed_again_later(tmp_path: Path) -> None:
    """Older kernels stamp times once a tick: a write in the tick of the last one leaves size, times and identity as
    they were. A read back that soon after the write gives no key, so the read after the change hashes the file again;
    once the last change is older than the margin, the key stands."""
    path = tmp_path / "virscan1.dat"
    path.write_bytes(b"x" * 4096)
    assert hashing.sha256_landed(str(path))[2] is None
    time.sleep(hashing.RACY_NS / 1e9 + 0.05)
    digest, size, key = hashing.sha256_landed(str(path))
    assert (digest, size) == (hashlib.sha256(b"x" * 4096).hexdigest(), 4096) and key is not None
