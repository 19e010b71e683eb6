"""The shipped deploy/nginx.conf, run by Debian's nginx in a throwaway prefix on loopback.

The site file is used as it is, with only what differs on a test machine replaced (each
replacement must match, so a change to the file cannot silently escape the tests): the
upstream servers, the listen addresses (loopback, free ports), the certificate and ACME
paths. A minimal main configuration around it keeps every file nginx writes in the prefix.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

MAIN = """\
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/site.conf;
}}
"""


def self_signed(directory: Path) -> Path:
    """fullchain.pem and privkey.pem for 127.0.0.1 in ``directory``; returns the certificate
    (a client trusts it as its own authority)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # A certificate is valid over a span of real time, so this one spans decades either side.
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=365 * 20)).not_valid_after(now + timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return directory / "fullchain.pem"


def site_config(*, upstream: str, http_port: int, https_port: int, tls: Path, acme: Path) -> str:
    text = SITE.read_text()
    for old, new in (
        ("server ecoach-a:8080", f"server {upstream}"),
        ("server ecoach-b:8080", f"server {upstream}"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("/etc/nginx/tls/", f"{tls}/"),
        ("/var/www/acme", str(acme)),
    ):
        assert old in text, f"deploy/nginx.conf no longer has {old!r}: update tests/nginx_support.py"
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx with deploy/nginx.conf in ``prefix``, in front of ``upstream`` (host:port)."""

    def __init__(self, prefix: Path, upstream: str) -> None:
        self.prefix = prefix
        self.http_port, self.https_port = free_port(), free_port()
        self.acme = prefix / "acme"
        for sub in ("tmp", "acme"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        self.certificate = self_signed(prefix / "tls")
        (prefix / "site.conf").write_text(site_config(
            upstream=upstream, http_port=self.http_port, https_port=self.https_port, tls=prefix / "tls",
            acme=self.acme))
        # As root, nginx's workers would otherwise switch to "nobody", who may not read the prefix.
        user = "user root;" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(MAIN.format(prefix=prefix, user=user))
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), "-e", "stderr", *extra]

    def test(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command(), stderr=open(self.prefix / "stderr.log", "ab"))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # our own nginx, by its pid: a fast shutdown
            self.proc.wait(timeout=30)
            self.proc = None

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"
