"""The Windows fetch's web client under mono against real servers, in one process (tests/unit/csharp/FetchTests.cs).

A reused PowerShell process (PSRP) runs the engine beside other code: a certificate callback, TLS protocols or a
default proxy that code set process-wide must not weaken a fetch, and a fetch must not change them. Two nginx servers
on 127.0.0.1 (one whose certificate is for server authentication, one for client authentication only, each from a CA
made for the test) and a plain HTTP server serve hello.dat.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.mailsec.smsmse.tests import distpoint_server

from . import engine

PROGRAM = Path(__file__).resolve().parent / "csharp" / "FetchTests.cs"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def checks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if engine.MCS is None or engine.MONO is None:
        pytest.skip("mcs or mono is not installed (scripts/ensure_mcs.sh)")
    binary = distpoint_server.nginx_binary()
    if binary is None:
        pytest.skip(distpoint_server.NO_NGINX)
    folder = tmp_path_factory.mktemp("fetch-web")
    www = folder / "www"
    www.mkdir()
    (www / "hello.dat").write_bytes(b"hello")
    out = folder / "FetchTests.exe"
    sources = [str(p) for p in sorted(engine.UTILS.glob("*.cs")) if p.name != "SmsmseEngineCli.cs"]
    built = subprocess.run(
        [engine.MCS, *engine.BUILD, f"-out:{out}", *sources, str(PROGRAM)], capture_output=True, text=True, check=False, timeout=300
    )
    assert built.returncode == 0, built.stdout + built.stderr
    good_pki = distpoint_server.make_ca(folder / "pki-server")
    client_pki = distpoint_server.make_ca(folder / "pki-client", purpose=ExtendedKeyUsageOID.CLIENT_AUTH)
    good = distpoint_server.Nginx(binary, www, folder / "nginx-server", good_pki).start()
    client_only = distpoint_server.Nginx(binary, www, folder / "nginx-client", client_pki).start()
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(www)))
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        args = [good.url, str(good_pki.ca), client_only.url, str(client_pki.ca), f"http://127.0.0.1:{plain.server_address[1]}"]
        ran = subprocess.run([engine.MONO, str(out), *args], capture_output=True, text=True, check=False, timeout=300)
    finally:
        plain.shutdown()
        plain.server_close()
        good.stop()
        client_only.stop()
    found: dict[str, str] = {}
    for line in ran.stdout.splitlines():
        kind, _space, rest = line.partition(" ")
        name, _space, why = rest.partition(" ")
        found[name] = kind if kind == "ok" else f"{kind} {why}"
    found["__stderr__"] = ran.stderr
    yield found


@pytest.mark.parametrize(
    "name",
    [
        "a_process_wide_callback_never_accepts_for_a_fetch",
        "validate_certs_false_takes_the_unknown_ca",
        "a_lax_connection_is_never_reused_by_a_strict_fetch",
        "ca_path_takes_a_server_certificate_it_signed",
        "ca_path_refuses_a_certificate_for_client_authentication_only",
        "the_process_tls_protocols_are_put_back",
        "fetch_offers_tls_1_2_or_later_only",
        "the_default_proxy_is_never_changed",
        "a_named_proxy_is_answered_with_the_agents_identity",
        "the_system_proxy_gets_no_credentials",
        "a_malformed_proxy_names_the_option_and_the_fix",
        "an_https_proxy_is_refused",
    ],
)
def test_the_web_client(checks: dict[str, str], name: str) -> None:
    assert checks.get(name) == "ok", (checks.get(name), checks["__stderr__"])
