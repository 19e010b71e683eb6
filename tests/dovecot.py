"""A real IMAP server for tests and benchmarks: Debian's Dovecot on a loopback port.

Each instance has its own throwaway configuration, passwd-file users and maildir storage
in a temporary directory, and runs in the foreground (``dovecot -F -c <conf>``), so it can
be stopped and started again on the same port to play a server restart. Plaintext login
is allowed (loopback only, ``ssl = no``); IDLE and MOVE are on unless switched off. With
``tls=True`` it also offers STARTTLS and implicit TLS (``tls_port``) with a self-signed
certificate for 127.0.0.1 (``ca_file``, for clients to trust).

Dovecot will not run its login processes as root, so as root they run as its own
``dovenull``/``dovecot`` users and the mail belongs to the ``mail`` system user; as a
normal user everything runs as that user.

``ImapAccount`` appends mail and reads folders over IMAP (aioimaplib) like any mail
client. The ``dovecot`` fixture gives each test a fresh account on one shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aioimaplib import IMAP4

DOVECOT = "/usr/sbin/dovecot"
HOST = "127.0.0.1"
PASSWORD = "mailbox-secret"
# What Dovecot 2.3 advertises by default, minus IDLE and MOVE: a plainer server.
PLAIN_CAPABILITIES = "IMAP4rev1 LITERAL+ SASL-IR LOGIN-REFERRALS ID ENABLE SORT UIDPLUS ESEARCH"

_FETCH_START = re.compile(rb"^\d+ FETCH \(.*UID (\d+).*\{(\d+)\}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def available() -> bool:
    return os.path.exists(DOVECOT)


def require_dovecot() -> None:
    """Skip locally, fail under CI, when Dovecot is not installed (as tests/browser.py)."""
    if available():
        return
    if os.environ.get("CI"):
        pytest.fail("Dovecot is not installed (./run-tests installs dovecot-imapd)")
    pytest.skip("Debian's dovecot-imapd is not installed")


class Dovecot:
    def __init__(self, *, idle: bool = True, move: bool = True, tls: bool = False, port: int | None = None) -> None:
        self.port = port or free_port()
        self.tls_port = free_port() if tls else 0
        self.host = HOST
        self.capabilities = None if idle and move else _capabilities(idle=idle, move=move)
        # Not under pytest's tmp_path: the login processes (dovenull) must reach base_dir.
        self.root = Path(tempfile.mkdtemp(prefix="ecoach-dovecot-"))
        os.chmod(self.root, 0o755)
        (self.root / "passwd").write_text("")
        self.users: dict[str, str] = {}  # users with a password of their own
        self._accounts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ca_file = self.root / "cert.pem"
        if tls:
            _self_signed(self.ca_file, self.root / "key.pem")

    # -- configuration -----------------------------------------------------------------
    def add_user(self, name: str, password: str) -> None:
        """Let ``name`` log in with ``password`` too. Dovecot re-reads the passwd-file when
        it changes (it looks at most once a second)."""
        self.users[name] = password
        lines = "".join(f"{user}:{{PLAIN}}{secret}\n" for user, secret in self.users.items())
        (self.root / "passwd").write_text(lines)

    def _write_config(self) -> Path:
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            mail = pwd.getpwnam("mail")
            uid, gid = mail.pw_uid, mail.pw_gid
            os.chown(self.root / "mail", uid, gid)
            users = "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
            chroot = ""
        else:
            uid, gid = os.geteuid(), os.getegid()
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            users = (f"default_login_user = {me}\ndefault_internal_user = {me}\n"
                     f"default_internal_group = {group}\n")
            # Without root there is no chroot for the login and helper processes.
            chroot = "\n".join(f"service {name} {{\n  chroot =\n}}" for name in ("imap-login", "anvil"))
        conf = self.root / "dovecot.conf"
        conf.write_text(CONFIG.format(
            root=self.root, port=self.port, password=PASSWORD, uid=uid, gid=gid, users=users, chroot=chroot,
            capability=f"imap_capability = {self.capabilities}" if self.capabilities else "",
            tls_port=self.tls_port,
            ssl=f"ssl = yes\nssl_cert = <{self.ca_file}\nssl_key = <{self.root / 'key.pem'}" if self.tls_port else "ssl = no",
        ))
        return conf

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self.proc is not None:
            return
        conf = self._write_config()
        log = open(self.root / "dovecot.out", "ab")
        # A process group of its own: stop() ends the master and every child at once, as
        # a full server shutdown does (a lone imap child would linger ~10 s otherwise).
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError("dovecot did not start:\n" + self.log())
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as sock:
                    if sock.recv(200).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("dovecot did not answer:\n" + self.log())

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        if self.proc is not None:  # no graceful shutdown needed for a throwaway server
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        parts = []
        for name in ("dovecot.log", "dovecot.out"):
            path = self.root / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-4000:])
        return "\n".join(parts)

    def account(self) -> ImapAccount:
        """A fresh mailbox on this server (a new user name), so tests can share a server."""
        self._accounts += 1
        return ImapAccount(self, f"coach{self._accounts}")


class ImapAccount:
    """One user's mailbox, seen as a mail client sees it (IMAP over loopback)."""

    def __init__(self, server: Dovecot, user: str) -> None:
        self.server = server
        self.user = user

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def password(self) -> str:
        return self.server.users.get(self.user, PASSWORD)

    def set_password(self, password: str) -> None:
        self.server.add_user(self.user, password)

    @asynccontextmanager
    async def client(self) -> AsyncIterator[IMAP4]:
        imap = IMAP4(host=HOST, port=self.port, timeout=30)
        await imap.wait_hello_from_server()
        response = await imap.login(self.user, self.password)
        assert response.result == "OK", response
        try:
            yield imap
        finally:
            try:
                await imap.logout()
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass

    async def append(self, *raws: bytes, folder: str = "INBOX") -> None:
        async with self.client() as imap:
            await _ensure_folder(imap, folder)
            for raw in raws:
                response = await imap.append(raw, mailbox=_quote(folder))
                assert response.result == "OK", response

    async def messages(self, folder: str = "INBOX") -> list[bytes]:
        """The raw mails in a folder, in UID order (empty if the folder does not exist)."""
        async with self.client() as imap:
            response = await imap.select(_quote(folder))
            if response.result != "OK" or b"0 EXISTS" in response.lines:
                return []
            response = await imap.uid("fetch", "1:*", "(UID BODY.PEEK[])")
            assert response.result == "OK", response
            return [raw for _, raw in sorted(fetched_bodies(response.lines))]

    async def count(self, folder: str = "INBOX") -> int:
        async with self.client() as imap:
            response = await imap.status(_quote(folder), "(MESSAGES)")
            if response.result != "OK":
                return 0
            match = re.search(rb"MESSAGES (\d+)", b" ".join(response.lines))
            return int(match.group(1)) if match else 0

    async def wait_count(self, folder: str, expected: int, timeout: float = 30.0) -> None:
        """Until ``folder`` holds ``expected`` mails (the timeout only stops a broken test)."""
        async def reached() -> bool:
            return await self.count(folder) == expected

        await wait_until(reached, timeout)

    async def recreate(self, folder: str) -> None:
        """Delete a folder and create it anew: it gets a new UIDVALIDITY."""
        async with self.client() as imap:
            await imap.delete(_quote(folder))
            response = await imap.create(_quote(folder))
            assert response.result == "OK", response

    async def uidvalidity(self, folder: str = "INBOX") -> int:
        async with self.client() as imap:
            response = await imap.status(_quote(folder), "(UIDVALIDITY)")
            match = re.search(rb"UIDVALIDITY (\d+)", b" ".join(response.lines))
            assert match, response
            return int(match.group(1))


def fetched_bodies(lines: Iterable[bytes | bytearray]) -> Iterator[tuple[int, bytes]]:
    """(uid, raw) pairs from an aioimaplib FETCH response: a ``n FETCH (UID u BODY[] {size}``
    line is followed by the literal (a bytearray) and then the closing ``)``."""
    uid = None
    for line in lines:
        if isinstance(line, bytearray) and uid is not None:
            yield uid, bytes(line)
            uid = None
            continue
        match = _FETCH_START.match(bytes(line))
        if match:
            uid = int(match.group(1))


async def _ensure_folder(imap: IMAP4, folder: str) -> None:
    if folder.upper() != "INBOX":
        await imap.create(_quote(folder))  # NO [ALREADYEXISTS] is fine


def _self_signed(cert_path: Path, key_path: Path) -> None:
    """A throwaway certificate for 127.0.0.1 (cryptography is already a dependency)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecoach test IMAP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _capabilities(*, idle: bool, move: bool) -> str:
    extra = (["IDLE"] if idle else []) + (["MOVE"] if move else [])
    return " ".join([PLAIN_CAPABILITIES, *extra])


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot for the whole session (starting and stopping one takes a second);
    each test gets a mailbox of its own on it."""
    require_dovecot()
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox on the shared Dovecot (started again if a test stopped it)."""
    dovecot_server.start()
    return dovecot_server.account()


async def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an (async) predicate until it is truthy; fail with a clear message otherwise.
    Not a timing assert: the timeout only stops a broken test from hanging."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


CONFIG = """\
# Throwaway test configuration (tests/dovecot.py); nothing here is for production.
base_dir = {root}/run
state_dir = {root}/state
instance_name = ecoach-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
{users}
first_valid_uid = {uid}
last_valid_uid = 0
first_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
{capability}
# Users given a password of their own (add_user) may use it...
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
# ... and any name may log in with the shared test password (each test uses a fresh name).
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
{chroot}
"""
