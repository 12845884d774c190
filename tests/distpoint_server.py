"""A distribution point for the tests and bench/distpoint.py: a folder served over HTTPS by Debian's nginx on 127.0.0.1.

:func:`make_ca` makes a CA and a server certificate for 127.0.0.1 (and ``localhost``) with ``cryptography``;
:class:`Nginx` starts nginx in the foreground on a free loopback port with its own prefix folder, configuration,
logs and PID file, and stops it again. ``scripts/ensure_nginx.sh`` installs nginx where it can (root on Debian);
:func:`nginx_binary` is None elsewhere, and the tests skip with :data:`NO_NGINX`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
ENSURE = ROOT / "scripts" / "ensure_nginx.sh"
NO_NGINX = "nginx is not installed and cannot be installed here (scripts/ensure_nginx.sh needs root on Debian)"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(
    folder: Path,
    *,
    hosts: tuple[str, ...] = (LOOPBACK, "localhost"),
    purpose: x509.ObjectIdentifier = x509.oid.ExtendedKeyUsageOID.SERVER_AUTH,
) -> Pki:
    """A CA made for the test, and a server certificate it signed for ``hosts`` (IP addresses and names), for
    ``purpose`` (extended key usage: server authentication unless a test asks for another).

    RSA keys: mono's X509 classes, which run the Windows agent's engine in the tests and the lab, read no EC key."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = _name("mailsec.smsmse test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)  # key_cert_sign, crl_sign
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    pki.key.chmod(0o600)
    return pki


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def nginx_binary(install: bool = True) -> str | None:
    """nginx's path; with ``install``, scripts/ensure_nginx.sh runs first (it installs nginx as root on Debian)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    if found is None and install and ENSURE.exists():
        subprocess.run(["bash", str(ENSURE)], check=False, timeout=900)
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
    return found


CONFIG = """\
{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    server {{
        listen {host}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        root {root};
        location / {{ autoindex off; }}
{extra}    }}
}}
"""


class Nginx:
    """nginx serving ``root`` over HTTPS on 127.0.0.1 and a free port, in the foreground, until :meth:`stop`."""

    def __init__(self, binary: str, root: Path, prefix: Path, pki: Pki, *, extra: str = "") -> None:
        self.binary = binary
        self.root = root
        self.prefix = prefix
        self.pki = pki
        self.extra = extra
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def start(self) -> Nginx:
        self.prefix.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            self.port = free_port()
            config = self.prefix / "nginx.conf"
            config.write_text(
                CONFIG.format(
                    user="user root;\n" if os.geteuid() == 0 else "",  # the worker reads the test's private folders
                    prefix=self.prefix,
                    host=LOOPBACK,
                    port=self.port,
                    cert=self.pki.cert,
                    key=self.pki.key,
                    root=self.root,
                    extra=self.extra,
                )
            )
            log = (self.prefix / "stderr.log").open("wb")
            self.process = subprocess.Popen([self.binary, "-p", str(self.prefix), "-c", str(config)], stdout=log, stderr=log)
            if self._wait_ready():
                return self
            self.stop()
            if attempt == 4:
                raise RuntimeError(f"nginx did not start: {(self.prefix / 'stderr.log').read_text(errors='replace')[-2000:]}")
        return self

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
