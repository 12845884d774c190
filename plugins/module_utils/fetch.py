# Copyright: mailsec.smsmse developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX agent's ``fetch`` step: bring one set from a distribution point into a staging folder of a store.

The source is the set's folder on the distribution point: an ``https://`` or
``http://`` URL, or a full path of a folder on the host. Every file of the
manifest (the trusted catalog's entry for the version; the marker last) is
streamed into ``<store>/<name>`` while it is hashed, and never more than its
catalogued size + 1 bytes are read. The first file whose size or SHA-256
differs ends the step: the staging folder is removed and the step refuses
(``refused`` with a ``SOURCE_*`` code), naming the source. Each file is written
and hashed on a thread of its own while the next bytes arrive, and flushed to
disk (fsync) on another while the next file is fetched. Once every file is on
disk (and the folders' entries too), the set is read back from the store and
matched against the manifest once more: an antivirus filter may clean or cut a
file right after it is written, and the digest taken while receiving is that of
the bytes received (``failed``, ``READ_BACK_MISMATCH``; the staging folder is
removed). A staging folder is
never a set's name, so the product's copy job cannot take it even while it is
written; a killed agent leaves it for the next ``clean``.

HTTP: one connection per origin, kept alive across files; a redirect is
followed only to the same scheme, host and port; ``timeout_seconds`` bounds
each wait for the server (connect, each read), ``deadline_seconds`` the whole
set: when it passes, every open connection is shut down at the socket, so that
no server can hold the step by sending a line now and then. A folder source is
opened, examined and read on a worker thread waited for until the deadline
only: a hung mount ends the step with ``SOURCE_TIMEOUT``; the blocked thread
ends with the agent process. HTTPS offers TLS 1.2 or later and checks the certificate against the
system's CAs or ``ca_path`` unless ``validate_certs`` is false. The POSIX agent
connects directly (no proxy).
"""

from __future__ import annotations

import errno
import functools
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

from ansible_collections.mailsec.smsmse.plugins.module_utils import set_copy
from ansible_collections.mailsec.smsmse.plugins.module_utils.hashing import BUFFER, sha256_landed
from ansible_collections.mailsec.smsmse.plugins.module_utils.primitives import Context, Refused, match_read_back, relative

T = TypeVar("T")
MAX_REDIRECTS = 5
NOT_FOUND = (404, 410)


class SourceError(Exception):
    """The source cannot give the file as the catalog lists it: (code, message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Deadline:
    def __init__(self, seconds: float, source: str) -> None:
        self.seconds = seconds
        self.source = source
        self.ends = time.monotonic() + seconds
        #: a call of :meth:`run` was left running at the deadline: what it was given (a descriptor) must stay open
        self.left_running = False

    def left(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def passed(self) -> bool:
        return time.monotonic() >= self.ends

    def error(self) -> SourceError:
        return SourceError("SOURCE_TIMEOUT", f"{self.source} did not deliver the set within {self.seconds:g} seconds (deadline_seconds)")

    def check(self) -> None:
        if self.passed():
            raise self.error()

    def run(self, call: Callable[[], T]) -> T:
        """``call()`` on a thread of its own, waited for until the deadline only: a folder on a hung mount blocks that
        thread, never the step. The abandoned thread ends with the agent (or when the mount answers)."""
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["value"] = call()
            except BaseException as exc:  # handed to the caller
                box["error"] = exc

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(self.left())
        if worker.is_alive():
            self.left_running = True
            raise self.error()
        if "error" in box:
            raise box["error"]
        result: T = box["value"]
        return result


def is_url(source: str) -> bool:
    return source.lower().startswith(("https://", "http://"))


# --- reading a file from a folder or over HTTP ---


def _folder_chunks(path: str, limit: int, deadline: Deadline) -> Iterator[bytes]:
    """The file's bytes, at most ``limit`` of them; a FIFO or device is refused, never waited on."""
    try:
        fd = deadline.run(lambda: os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except FileNotFoundError:
        raise SourceError("SOURCE_NOT_FOUND", f"{path} does not exist") from None
    except OSError as exc:
        raise SourceError("SOURCE_UNREACHABLE", f"{path} cannot be opened: {_os_text(exc)}") from None
    try:
        if not stat.S_ISREG(deadline.run(lambda: os.fstat(fd)).st_mode):
            raise SourceError("SOURCE_NOT_FOUND", f"{path} is not a regular file")
        left = limit
        while left > 0:
            deadline.check()
            want = min(BUFFER, left)
            try:
                chunk = deadline.run(functools.partial(os.read, fd, want))
            except OSError as exc:
                raise SourceError("SOURCE_UNREACHABLE", f"{path} could not be read: {_os_text(exc)}") from None
            if not chunk:
                return
            left -= len(chunk)
            yield chunk
    finally:
        # A read left running at the deadline still uses this number, or has yet to start: closed now, the number
        # would go to the next file or pipe the agent opens, and that read would take its bytes. It stays open (one
        # descriptor) until the agent ends.
        if not deadline.left_running:
            os.close(fd)


class Http:
    """Connections to the distribution point's origin, kept alive across files."""

    def __init__(self, args: dict[str, Any], deadline: Deadline) -> None:
        self.timeout = float(args["timeout_seconds"])
        self.deadline = deadline
        self.tls = _tls_context(bool(args["validate_certs"]), args.get("ca_path"))
        self.connections: dict[tuple[str, str, int], http.client.HTTPConnection] = {}
        # the two buffers a body is read into in turn, made once for the step: a buffer of 1 MiB made per file is
        # mapped and faulted in anew each time (a third of the step's system time in a VM)
        self.buffers = (memoryview(bytearray(BUFFER)), memoryview(bytearray(BUFFER)))
        # http.client reads some things without end (100 Continue answers, a chunked body's trailer lines), each line
        # resetting timeout_seconds: the deadline cuts every open connection at the socket instead
        self.cutter = threading.Timer(deadline.left(), self._cut)
        self.cutter.daemon = True
        self.cutter.start()

    def _cut(self) -> None:
        for connection in list(self.connections.values()):
            if connection.sock is not None:
                with suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cutter.cancel()
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()

    def _connection(self, origin: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        existing = self.connections.get(origin)
        if existing is not None:
            return existing, True
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self.tls)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
        self.connections[origin] = connection
        return connection, False

    def _get(self, url: str) -> http.client.HTTPResponse:
        origin, target = _origin(url)
        for _attempt in range(2):
            connection, reused = self._connection(origin)
            try:
                connection.request("GET", target, headers={"Accept-Encoding": "identity", "User-Agent": "mailsec.smsmse"})
                return connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop(origin)
                if not reused:  # a kept-alive connection the server closed meanwhile is opened again, once
                    raise
            except BaseException:
                self._drop(origin)
                raise
        raise AssertionError("unreachable")

    def _drop(self, origin: tuple[str, str, int]) -> None:
        dropped = self.connections.pop(origin, None)
        if dropped is not None:
            dropped.close()

    def response(self, url: str) -> http.client.HTTPResponse:
        """The 200 response for ``url``, following redirects within its origin only."""
        first = _origin(url)[0]
        for _hop in range(MAX_REDIRECTS + 1):
            self.deadline.check()
            answer = self._get(url)
            if answer.status in (301, 302, 303, 307, 308):
                location = answer.getheader("Location") or ""
                answer.read(65536)
                target = urllib.parse.urljoin(url, location)
                if not is_url(target) or _origin(target)[0] != first:
                    self._drop(first)
                    raise SourceError(
                        "SOURCE_REDIRECT",
                        f"{_safe(url)} redirects to {_safe(target)}, another host or scheme: a distribution point is read from "
                        "its own origin only; give the URL the set is served from",
                    )
                url = target
                continue
            if answer.status != 200:
                self._drop(first)
                code = "SOURCE_NOT_FOUND" if answer.status in NOT_FOUND else "SOURCE_UNREACHABLE"
                raise SourceError(code, f"{_safe(url)} answered {answer.status} {answer.reason}")
            return answer
        raise SourceError("SOURCE_REDIRECT", f"{_safe(url)} redirects more than {MAX_REDIRECTS} times")

    def chunks(self, url: str, limit: int) -> Iterator[bytes | memoryview]:
        answer = self.response(url)
        declared = answer.getheader("Content-Length")
        if declared is not None and not (declared.isascii() and declared.isdigit()):
            declared = None  # '²' is a digit to str.isdigit(): a length that is not plain ASCII digits is no length
        if declared is not None and int(declared) >= limit:
            self._drop(_origin(url)[0])  # never read more than the catalog's size + 1: the body stays unread
            raise SourceError("SOURCE_MISMATCH", f"{_safe(url)} is {int(declared)} bytes, larger than the catalog lists ({limit - 1})")
        if declared is not None and not answer.chunked and answer.fp is not None:
            yield from self._body(answer, int(declared), url)
            return
        left = limit
        finished = False
        read_some = getattr(answer, "read1", answer.read)  # read1: what has arrived, so that the deadline is checked as bytes come
        try:
            while left > 0:
                chunk = bytearray()
                want = min(BUFFER, left)
                while len(chunk) < want:
                    self.deadline.check()
                    piece = read_some(want - len(chunk))
                    if not piece:
                        finished = True
                        break
                    chunk += piece
                if chunk:
                    left -= len(chunk)
                    yield bytes(chunk)
                if finished:
                    return
            finished = answer.isclosed()
        finally:
            if not finished:  # an unread rest: the connection cannot carry the next file
                self._drop(_origin(url)[0])

    def _body(self, answer: http.client.HTTPResponse, length: int, url: str) -> Iterator[memoryview]:
        """A body of known length, read straight into two buffers in turn (each chunk is written and hashed while the next
        is read: :func:`_land` hands a chunk over only once the one before is done); the deadline is checked as bytes come."""
        reader = answer.fp
        buffers = self.buffers  # free: _land hands the last chunk of a file over before the next file is asked for
        left, turn = length, 0
        try:
            while left > 0:
                buffer, filled, want = buffers[turn], 0, min(BUFFER, left)
                while filled < want:
                    self.deadline.check()
                    got = reader.readinto1(buffer[filled:want])
                    if not got:
                        raise http.client.IncompleteRead(b"", left - filled)
                    filled += got
                left -= filled
                turn = 1 - turn
                yield buffer[:filled]
        except BaseException:
            self._drop(_origin(url)[0])
            raise
        answer.close()  # the body is read whole: the connection carries the next file


def _origin(url: str) -> tuple[tuple[str, str, int], str]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise SourceError("SOURCE_UNREACHABLE", f"{_safe(url)} is not an http:// or https:// URL with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return (scheme, parts.hostname.lower(), port), target


def _tls_context(validate: bool, ca_path: str | None) -> ssl.SSLContext:
    if validate:
        try:
            context = ssl.create_default_context(cafile=ca_path or None)
        except ssl.SSLError as exc:  # a file that holds no certificate: named, never "the handshake failed"
            raise SourceError(
                "SOURCE_TLS",
                f"ca_path {ca_path} holds no PEM certificate that loads ({exc.reason or exc}): give a PEM file of the CA "
                "certificates that sign the distribution point's certificate",
            ) from None
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _safe(url: str) -> str:
    """A URL without user name or password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url[:1024]
    host = parts.hostname or ""
    return urllib.parse.urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query, ""))[:1024]


def file_url(base: str, rel: str) -> str:
    return base.rstrip("/") + "/" + "/".join(urllib.parse.quote(part, safe="") for part in relative(rel))


# --- the step ---


class _Workers:
    """The step's two threads besides the one that receives: ``writer`` writes and hashes each chunk while the next is
    received; ``flusher`` flushes each landed file to disk (fsync) and closes it while the next file is fetched. At the
    end both read the set back, half of it each."""

    def __init__(self) -> None:
        self.writer = ThreadPoolExecutor(max_workers=1)
        self.flusher = ThreadPoolExecutor(max_workers=1)
        self.flushes: list[Future[None]] = []

    def flush(self, fd: int) -> None:
        self.flushes.append(self.flusher.submit(_flush_and_close, fd))

    def flushed(self) -> None:
        """Wait until every landed file is on disk; the first failure to flush one is raised."""
        for future in self.flushes:
            future.result()

    def close(self) -> None:
        """Wait for every task (no file of the staging folder is still open or written then), and end the threads."""
        self.writer.shutdown()
        self.flusher.shutdown()


def _write_and_hash(fd: int, chunk: bytes | memoryview, digest: Any) -> None:
    digest.update(chunk)
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view) :]


def _flush_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _land(chunks: Iterator[bytes | memoryview], target: str, workers: _Workers) -> tuple[int, str]:
    """Write the chunks to the new file ``target`` and hash them on the writer's thread while the next chunk is received
    (a chunk is handed over only once the one before is written: the reader fills one buffer while the other is written);
    the file is flushed and closed on the flusher's thread. (size, SHA-256) of what was received."""
    digest = hashlib.sha256()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    size = 0
    pending: Future[None] | None = None
    try:
        for chunk in chunks:
            if pending is not None:
                pending.result()
            pending = workers.writer.submit(_write_and_hash, fd, chunk, digest)
            size += len(chunk)
        if pending is not None:
            pending.result()
    except BaseException:
        if pending is not None:
            wait([pending])  # the writer no longer uses the file or the buffer
        os.close(fd)
        raise
    workers.flush(fd)
    return size, digest.hexdigest()


def _read_back(target: str, manifest: dict[str, Any], workers: _Workers, landed: dict[str, tuple[list[Any], str]]) -> None:
    """What landed, read back from the store once it is on disk, half the files on each worker: an antivirus filter may
    clean or cut a file right after it is written, and the digest taken while receiving is that of the bytes received.
    Each file that matches, and did not move while it was read, is kept in ``landed`` (``Context.landed``)."""
    pools = (workers.writer, workers.flusher)
    buffers = (bytearray(BUFFER), bytearray(BUFFER))  # one per worker, each used by one file at a time
    paths = [(rel, os.path.join(target, *relative(rel))) for rel in manifest]
    reads = {rel: pools[i % 2].submit(sha256_landed, path, buffers[i % 2]) for i, (rel, path) in enumerate(paths)}
    match_read_back(
        target, manifest, {rel: read.result for rel, read in reads.items()}, landed, how="fetched", left="the staging folder was removed"
    )


def _mismatch(where: str, rel: str, size: int, digest: str, want: dict[str, Any]) -> str | None:
    if size > want["size"]:
        return f"{rel} from {where} is larger than the catalog lists ({want['size']} bytes)"
    if size < want["size"]:
        return f"{rel} from {where} is {size} bytes, the catalog lists {want['size']}: it is truncated"
    if digest != want["sha256"]:
        return f"{rel} from {where} does not have the SHA-256 the catalog lists"
    return None


@contextmanager
def _http_session(source: str, args: dict[str, Any], deadline: Deadline) -> Iterator[Http | None]:
    session = Http(args, deadline) if is_url(source) else None
    try:
        yield session
    finally:
        if session is not None:
            session.close()


def _reader(session: Http | None, source: str, rel: str, limit: int, deadline: Deadline) -> tuple[Iterator[bytes | memoryview], str]:
    if session is not None:
        url = file_url(source, rel)
        return session.chunks(url, limit), _safe(url)
    path = os.path.join(source, *relative(rel))
    return _folder_chunks(path, limit, deadline), path


def _check_folder_source(source: str, deadline: Deadline) -> None:
    if not os.path.isabs(source):
        raise SourceError("SOURCE_UNREACHABLE", f"{source} is neither an http(s):// URL nor a full path of a folder on the host")
    try:
        if not stat.S_ISDIR(deadline.run(lambda: os.stat(source)).st_mode):
            raise SourceError("SOURCE_NOT_FOUND", f"{source} is not a folder")
    except FileNotFoundError:
        raise SourceError("SOURCE_NOT_FOUND", f"the folder {source} does not exist (is the distribution point mounted?)") from None
    except OSError as exc:
        raise SourceError("SOURCE_UNREACHABLE", f"the folder {source} cannot be reached: {_os_text(exc)}") from None


def fetch(ctx: Context, store: str, args: dict[str, Any]) -> dict[str, Any]:
    """Stream every file of the set at ``source`` into ``<store>/<name>``, checking each against the manifest; marker last."""
    source, manifest, marker = str(args["source"]), args["manifest"], ctx.wire["marker"]
    target = ctx.staging_folder(store, args["name"], "fetched")
    if args.get("proxy") is not None:
        raise ValueError("'proxy' is set, but this agent connects directly, without a proxy")
    for rel in manifest:
        relative(rel)
    shown = _safe(source)
    deadline = Deadline(float(args["deadline_seconds"]), shown)
    fetched = 0
    os.mkdir(target)
    workers = _Workers()
    try:
        with _http_session(source, args, deadline) as session:
            if session is None:
                _check_folder_source(source, deadline)
            for rel in sorted(manifest, key=lambda p: (p.lower() == marker, p)):
                want = manifest[rel]
                dst = os.path.join(target, *relative(rel))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                chunks, where = _reader(session, source, rel, int(want["size"]) + 1, deadline)
                size, digest = _land(chunks, dst, workers)
                wrong = _mismatch(where, rel, size, digest, want)
                if wrong:
                    raise SourceError("SOURCE_MISMATCH", wrong + "; the set was refused")
                fetched += size
        workers.flushed()
        for root, _dirs, _files in os.walk(target):
            set_copy.fsync_dir(root)
        set_copy.fsync_dir(store)
        _read_back(target, manifest, workers, ctx.landed)
    except BaseException as exc:
        workers.close()  # no file of the staging folder is open or written any more
        shutil.rmtree(target, ignore_errors=True)
        if deadline.passed() and (isinstance(exc, SourceError) or _network_refusal(exc, shown) is not None):
            exc = deadline.error()  # a connection cut at the deadline ends in whatever error the read met
        if isinstance(exc, SourceError):
            raise Refused("refused", f"{shown}: {exc.message}; nothing of the set was kept", exc.code) from None
        refused = _network_refusal(exc, shown)
        if refused is not None:
            raise refused from None
        raise
    finally:
        workers.close()
    return {"bytes_fetched": fetched, "files_fetched": len(manifest)}


def _network_refusal(exc: BaseException, shown: str) -> Refused | None:
    """What a network error means for the set (a refusal naming the source), or None for a local failure."""
    tail = "; nothing of the set was kept"
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        fix = "give the CA that signed its certificate (ca_path) or, for a test only, validate_certs: false"
        return Refused("refused", f"{shown}: the TLS certificate was not accepted ({why}): {fix}{tail}", "SOURCE_TLS")
    if isinstance(exc, ssl.SSLError):
        return Refused("refused", f"{shown}: the TLS handshake failed ({exc.reason or exc}){tail}", "SOURCE_TLS")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return Refused("refused", f"{shown}: the server sent nothing for timeout_seconds{tail}", "SOURCE_TIMEOUT")
    if isinstance(exc, http.client.IncompleteRead):
        return Refused("refused", f"{shown}: the server closed the connection mid-file (truncated){tail}", "SOURCE_MISMATCH")
    if isinstance(exc, (http.client.HTTPException, ConnectionError, socket.gaierror)):
        return Refused("refused", f"{shown}: cannot be reached ({type(exc).__name__}: {exc}){tail}", "SOURCE_UNREACHABLE")
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED):
        return Refused("refused", f"{shown}: cannot be reached ({_os_text(exc)}){tail}", "SOURCE_UNREACHABLE")
    return None


def _os_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{name}: {exc.strerror or exc}"
