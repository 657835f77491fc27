"""Real mail servers on loopback for the e-mail tests.

- :class:`SmtpServer`: aiosmtpd in a thread that records every message it accepts; it can be
  stopped and started again on the same port (the outage test), refuse chosen recipients,
  speak STARTTLS with AUTH or implicit TLS.
- :class:`Dovecot`: Debian's dovecot-imapd (installed by `make install`), started by the
  fixture in the foreground on a free loopback port with its own configuration, passwd-file
  and Maildir in a temporary folder. It runs unprivileged: as the current user, or, when the
  tests run as root, with dovecot's own `dovecot`/`dovenull` users.

Import the fixtures into a test module: ``from .mail_servers import smtp_server, dovecot``.
"""
from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
OPENSSL = shutil.which("openssl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@dataclass(frozen=True)
class Arrived:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    at: float  # time.monotonic() when the server accepted it


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.lower() in self.server.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        with self.server.arrived:
            self.server.messages.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), raw, message,
                                                time.monotonic()))
            self.server.arrived.notify_all()
        return "250 2.0.0 accepted"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:<port>, recording what it accepts."""

    def __init__(self, *, tls: tuple[str, str] | None = None, implicit_tls: bool = False,
                 login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.messages: list[Arrived] = []
        self.refuse: set[str] = set()
        self.arrived = threading.Condition()
        self.logins: list[str] = []
        self._tls, self._implicit, self._login = tls, implicit_tls, login
        self._controller: Controller | None = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login is not None and \
            (data.login.decode(), data.password.decode()) == self._login
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self._tls)
            if self._implicit:
                kwargs["ssl_context"] = context
            else:
                kwargs.update(tls_context=context, require_starttls=True)
        if self._login:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True)
        self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port,
                                      server_hostname="smtp.test", **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller.loop.close()
            self._controller = None

    def wait_for(self, count: int, *, timeout: float = 15.0) -> list[Arrived]:
        """The first ``count`` messages, waiting for them up to ``timeout`` (a bound, not a threshold)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            assert len(self.messages) >= count, f"{len(self.messages)} of {count} mails arrived"
            return list(self.messages[:count])

    def to(self, address: str) -> list[Arrived]:
        return [m for m in self.messages if address in m.rcpt_tos]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (cert, key); it is also the CA file the clients trust."""
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = care-test-{port}
protocols = imap
listen = 127.0.0.1
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
disable_plaintext_auth = no
auth_mechanisms = plain login
{ssl}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ssl_port}
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """dovecot-imapd on loopback with one mailbox user; :meth:`deliver` puts mail in its INBOX."""

    user, password = "support@care.test", "imap-secret"

    def __init__(self, root: Path, *, tls: tuple[str, str] | None = None) -> None:
        self.root, self.port, self.ssl_port = root, free_port(), free_port() if tls else 0
        if os.geteuid() == 0:  # never run mail processes as root: dovecot's own users
            mail_user = pwd.getpwnam("dovecot")
            internal_user, internal_group, login_user = "dovecot", "dovecot", "dovenull"
        else:  # rootless: everything as the current user
            mail_user = pwd.getpwuid(os.getuid())
            internal_user = login_user = mail_user.pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
        (root / "mail").mkdir()
        (root / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        ssl_conf = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}" if tls else "ssl = no"
        (root / "dovecot.conf").write_text(DOVECOT_CONF.format(
            root=root, port=self.port, ssl_port=self.ssl_port, ssl=ssl_conf, uid=mail_user.pw_uid,
            gid=mail_user.pw_gid, internal_user=internal_user, internal_group=internal_group, login_user=login_user))
        if os.geteuid() == 0:
            os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert DOVECOT is not None
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port)
        except OSError:
            self.stop()
            raise RuntimeError(f"dovecot did not start:\n{self.log()}") from None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def log(self) -> str:
        path = self.root / "dovecot.log"
        output = self._process.stdout.read().decode() if self._process and self._process.poll() is not None \
            and self._process.stdout else ""
        return (path.read_text() if path.exists() else "") + output

    def connect(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        imap.login(self.user, self.password)
        imap.select("INBOX")
        return imap

    def deliver(self, raw: bytes) -> None:
        imap = self.connect()
        try:
            status, data = imap.append("INBOX", None, None, raw)
            assert status == "OK", data
        finally:
            imap.logout()

    def flags(self) -> list[str]:
        """Each message's flags, in mailbox order."""
        imap = self.connect()
        try:
            status, data = imap.fetch("1:*", "(FLAGS)")
            if status != "OK" or data == [None]:
                return []
            return [item.decode() for item in data if isinstance(item, bytes)]
        finally:
            imap.logout()

    def settings(self, *, secure: bool = False) -> dict[str, Any]:
        """The app settings that point the worker at this mailbox."""
        return {"IMAP_HOST": "127.0.0.1", "IMAP_PORT": self.ssl_port if secure else self.port,
                "IMAP_SECURITY": "ssl" if secure else "none", "IMAP_USERNAME": self.user,
                "IMAP_PASSWORD": self.password, "IMAP_MAILBOX": "INBOX"}


def dovecot_root() -> Path:
    # dovecot's unprivileged processes must reach the folder: not under pytest's 0700 tmp dirs
    root = Path(tempfile.mkdtemp(prefix="care-dovecot-"))
    root.chmod(0o755)
    return root


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (make install adds dovecot-imapd)")
    root = dovecot_root()
    server = Dovecot(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot_tls(tls_files: tuple[str, str]) -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.skip("dovecot is not installed (make install adds dovecot-imapd)")
    root = dovecot_root()
    server = Dovecot(root, tls=tls_files)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
