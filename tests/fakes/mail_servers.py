"""Real mail servers for tests: aiosmtpd (SMTP, captured in memory) and Dovecot (IMAP).

``SmtpCapture`` runs in the test's own event loop on a free port, optionally offering
STARTTLS with a throw-away certificate, and can be told to refuse mail for a while.
``Dovecot`` writes a small config into a temp folder, starts ``dovecot -c FILE`` on a free
port, puts mail into a mailbox with ``doveadm save``, and stops by its PID.
"""

import asyncio
import email
import email.policy
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support import free_port

__all__ = ["Dovecot", "SmtpCapture", "make_certificate"]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    argv += ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"]
    argv += ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    subprocess.run(
        argv,
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class _Handler:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: bool = False
    unknown: set[str] = field(default_factory=set)  # addresses answered 550 (no such user)
    tls_used: list[bool] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self.unknown:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(([str(r) for r in envelope.rcpt_tos], parsed))
        self.tls_used.append(session.ssl is not None)
        return "250 OK"


class SmtpCapture:
    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = _Handler()
        self._tls = tls
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return self.handler.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.handler, tls_context=self._tls, hostname="localhost"),
            "127.0.0.1",
            self.port,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, count: int, timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} emails, got {len(self.messages)}")
            await asyncio.sleep(0.02)


_CONFIG = """
base_dir = {base}/run
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_uid = mail
mail_gid = mail
first_valid_uid = 8
mail_location = maildir:{base}/mail/%u
passdb {{
  driver = passwd-file
  args = {base}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot on a free port, with the given ``user: password`` accounts."""

    def __init__(self, base: Path, users: dict[str, str]) -> None:
        self.base = base
        self.users = users
        self.port = free_port()
        self.config = base / "dovecot.conf"

    def start(self) -> None:
        base = self.base
        base.chmod(0o755)
        for parent in base.parents:  # the auth process (user dovecot) must traverse them
            if parent == Path("/tmp") or parent == Path("/"):
                break
            parent.chmod(parent.stat().st_mode | 0o755)
        for name in ("run", "mail", "home"):
            (base / name).mkdir(exist_ok=True)
        shutil.chown(base / "mail", "mail", "mail")
        shutil.chown(base / "home", "mail", "mail")
        (base / "users").write_text(
            "".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in self.users.items())
        )
        (base / "users").chmod(0o644)
        self.config.write_text(_CONFIG.format(base=base, port=self.port))
        # The daemon keeps inherited pipes open: never capture its output.
        subprocess.run(
            ["dovecot", "-c", str(self.config)],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=15,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"dovecot did not start: {self.log()}") from None
                time.sleep(0.05)

    def pid(self) -> int | None:
        pidfile = self.base / "run" / "master.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self) -> None:
        """Stop this Dovecot at once: its master and children share one process group
        (the master calls setsid), which is killed by id; a clean shutdown waits seconds."""
        pid = self.pid()
        if pid is None:
            return
        try:
            if os.getpgid(pid) == pid != os.getpgid(0):
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, IndexError):
                break
            if state in ("Z", "X"):  # dead, waiting to be reaped by whoever adopted it
                break
            time.sleep(0.02)
        (self.base / "run" / "master.pid").unlink(missing_ok=True)

    def save(self, user: str, raw: bytes, mailbox: str = "INBOX") -> None:
        """Deliver one message into a mailbox, as a local delivery agent would.

        doveadm answers 75 (EX_TEMPFAIL) now and then on a busy machine: try again."""
        argv = ["doveadm", "-c", str(self.config), "save", "-u", user, "-m", mailbox]
        for attempt in range(5):
            done = subprocess.run(argv, input=raw, capture_output=True, timeout=15, check=False)
            if done.returncode == 0:
                return
            if done.returncode != 75 or attempt == 4:
                raise AssertionError(f"doveadm save: {done.returncode}: {done.stderr!r}")
            time.sleep(0.2 * (attempt + 1))

    def drop(self, user: str, raw: bytes) -> None:
        """Write a message straight into the user's Maildir (works while Dovecot is down)."""
        folder = self.base / "mail" / user
        for sub in ("tmp", "new", "cur"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            shutil.chown(folder / sub, "mail", "mail")
        shutil.chown(folder, "mail", "mail")
        name = f"{time.time_ns()}.P{os.getpid()}.deploybot-test"
        (folder / "tmp" / name).write_bytes(raw)
        shutil.chown(folder / "tmp" / name, "mail", "mail")
        (folder / "tmp" / name).rename(folder / "new" / name)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text()[-2000:] if path.exists() else ""
