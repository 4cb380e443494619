"""End to end over real mail servers: request by email, approve by replying, result in thread.

Dovecot holds the bot's mailbox, aiosmtpd captures what the bot sends; the worker, the mail
listener and the outbox's email deliverer run on real Redis with the counting deploy script.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.bootstrap import App
from bot.settings import Settings
from channels.email import EmailOptions, email_channel
from tests.fakes.mail_servers import Dovecot, SmtpCapture
from tests.support import Clock, calls, make_app, thread_of, write_setup

REQUEST = (
    "From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: ship it\r\n"
    "Message-ID: <req1@mail.example.com>\r\n\r\ndeploy backend v1.4.2 to production\r\n"
    "\r\n-- \r\nDave\r\n"
)


@dataclass
class Mail:
    app: App
    dovecot: Dovecot
    smtp: SmtpCapture
    clock: Clock
    base: Path

    def deliver(self, raw: str) -> None:
        self.dovecot.save("deploybot", raw.encode())

    async def until(self, done: Callable[[], bool], timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, "timed out"
            await self.app.worker.run_until_idle()
            await asyncio.sleep(0.05)

    async def until_async(
        self, value: Callable[[], Awaitable[int]], wanted: int, timeout_s: float = 20
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while await value() != wanted:
            assert time.monotonic() < deadline, "timed out"
            await self.app.worker.run_until_idle()
            await asyncio.sleep(0.05)

    async def settle(self, s: float = 1.5) -> None:
        """Let the listener, the worker and the deliverer finish what they have."""
        deadline = time.monotonic() + s
        while time.monotonic() < deadline:
            await self.app.worker.run_until_idle()
            await asyncio.sleep(0.05)

    async def approval_for(self, address: str) -> EmailMessage:
        await self.until(lambda: bool(self.smtp.to(address)))
        [approval] = self.smtp.to(address)
        return approval


def reply(
    approval: EmailMessage,
    body: str,
    *,
    sender: str = "Alice <alice@example.com>",
    n: int = 1,
    headers: str = "",
) -> str:
    return (
        f"From: {sender}\r\nTo: {approval['Reply-To']}\r\nSubject: Re: {approval['Subject']}\r\n"
        f"Message-ID: <reply{n}@mail.example.com>\r\nIn-Reply-To: {approval['Message-ID']}\r\n"
        f"References: {approval['References']} {approval['Message-ID']}\r\n{headers}\r\n{body}"
    )


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    (tmp_path / "dovecot").mkdir()
    server = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def mail(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str
) -> AsyncIterator[Mail]:
    options = EmailOptions(require_dmarc=False)
    async with open_mail(tmp_path, dovecot, redis, key_prefix, options) as opened:
        yield opened


@pytest.fixture
async def dmarc_mail(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str
) -> AsyncIterator[Mail]:
    options = EmailOptions(require_dmarc=True, authserv_id="mx.example.com")
    async with open_mail(tmp_path, dovecot, redis, key_prefix, options) as opened:
        yield opened


@contextlib.asynccontextmanager
async def open_mail(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str, options: EmailOptions
) -> AsyncIterator[Mail]:
    smtp = SmtpCapture()
    await smtp.start()
    clock = Clock()
    config = write_setup(tmp_path, emails={"carol": "carol@example.com"})
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    async with email_running(app, dovecot=dovecot, smtp=smtp, clock=clock, options=options):
        yield Mail(app=app, dovecot=dovecot, smtp=smtp, clock=clock, base=tmp_path)
    await smtp.stop()


@contextlib.asynccontextmanager
async def email_running(
    app: App, *, dovecot: Dovecot, smtp: SmtpCapture, clock: Clock, options: EmailOptions
) -> AsyncIterator[None]:
    """The app's mail listener (on Dovecot) and email deliverer (to aiosmtpd), running."""
    settings = Settings(
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username="deploybot",
        imap_password=SecretStr("pw"),
        imap_ssl=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        email_from="deploybot@example.com",
        deploybot_secret=SecretStr("s3cret"),
        redis_url="redis://unused",
    )
    listener, sender = email_channel(
        settings,
        config=app.config,
        queue=app.queue,
        outbox=app.outbox,
        redis=app.redis,
        keys=app.keys,
        clock=clock,
        options=options,
    )
    stop = asyncio.Event()
    await app.queue.ensure_group()
    tasks = [
        asyncio.create_task(listener.run(stop)),
        asyncio.create_task(
            app.outbox.run(channel="email", sender=sender, consumer="m1", stop=stop)
        ),
    ]
    try:
        yield
    finally:
        stop.set()
        _done, hung = await asyncio.wait(tasks, timeout=10)
        for task in hung:  # never hang the suite on a stuck listener
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert not hung, "the mail tasks did not stop within 10 s"


async def test_request_approve_by_reply_deploy_once_result_in_thread(mail: Mail) -> None:
    mail.deliver(REQUEST)
    approval = await mail.approval_for("alice@example.com")
    body = approval.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "backend" in body
    assert "'approve' or 'reject <reason>' on the first line" in body
    quoted = "\r\n".join("> " + line for line in body.splitlines())
    mail.deliver(reply(approval, f"Approve\r\n\r\nOn Mon, Nov 2 deploybot wrote:\r\n{quoted}"))
    await mail.until(lambda: len(calls(mail.base)) == 1)
    await mail.until(lambda: any("live" in m.get_content() for m in _plain(mail, "dave")))
    mail.deliver(reply(approval, "approve", n=1))  # the same reply delivered again
    await mail.settle()
    assert len(calls(mail.base)) == 1
    for message in mail.smtp.to("dave@example.com"):
        assert message["In-Reply-To"] == "<req1@mail.example.com>"
        assert message["Subject"] == "Re: ship it"
        assert message["Auto-Submitted"] == "auto-generated"


def _plain(mail: Mail, who: str) -> list[EmailMessage]:
    found = []
    for message in mail.smtp.to(f"{who}@example.com"):
        part = message.get_body(("plain",))
        assert isinstance(part, EmailMessage)
        found.append(part)
    return found


REFUSALS = {
    "non-approver": lambda a: reply(a, "approve", sender="carol@example.com"),  # forwarded token
    "no above quoted approve": lambda a: reply(
        a, "no\r\n\r\nOn Mon, Nov 2 bot wrote:\r\n> approve"
    ),
    "out of office": lambda a: reply(
        a, "approve\r\nI am away.", headers="Auto-Submitted: auto-replied\r\n"
    ),
    "bounce": lambda a: reply(
        a,
        "--b\r\nContent-Type: text/plain\r\n\r\napprove\r\n--b--\r\n",
        sender="MAILER-DAEMON@example.com",
        headers="Return-Path: <>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n',
    ),
    "decision without token (threading only)": lambda a: reply(a, "approve").replace(
        f"To: {a['Reply-To']}", "To: deploybot@example.com"
    ),
    "html-only outlook reject": lambda a: reply(
        a,
        "<html><body><p>reject not during the sale</p><hr><div id=divRplyFwdMsg>"
        "<b>From:</b> deploybot<br><b>Sent:</b> Monday</div><p>approve</p></body></html>",
        headers="MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refused_or_ignored_replies_deploy_nothing(mail: Mail, case: str) -> None:
    mail.deliver(REQUEST)
    approval = await mail.approval_for("alice@example.com")
    mail.deliver(REFUSALS[case](approval))
    await mail.settle()
    assert calls(mail.base) == []
    thread = await thread_of(mail.app, "e" + _hash("<req1@mail.example.com>"))
    assert not any(e.type == "deploy_started" for e in thread.events)
    decisions = [e for e in thread.events if e.type == "approval_decided"]
    rejected = [e.reason for e in decisions if e.decision == "reject"]  # type: ignore[union-attr]
    if case in EXPECT_REJECTED:
        assert rejected == [EXPECT_REJECTED[case]]
    else:
        assert decisions == []
    if case in EXPECT_ANSWER:
        who, words = EXPECT_ANSWER[case]
        await mail.until(lambda: len(_plain(mail, who)) >= (2 if who == "alice" else 1))
        assert words in _plain(mail, who)[-1].get_content()


EXPECT_REJECTED = {
    "no above quoted approve": None,
    "html-only outlook reject": "not during the sale",
}
EXPECT_ANSWER = {
    "non-approver": ("carol", "not valid for this sender"),
    "decision without token (threading only)": ("alice", "Decisions count only"),
}


async def test_a_token_for_a_superseded_request_is_refused(mail: Mail) -> None:
    mail.deliver(REQUEST)
    first = await mail.approval_for("alice@example.com")
    # Dave changes his mind in the same email thread: a new plan replaces the first.
    change = (
        "From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: Re: ship it\r\n"
        "Message-ID: <req2@mail.example.com>\r\nIn-Reply-To: <req1@mail.example.com>\r\n"
        f"References: <req1@mail.example.com> {first['Message-ID']}\r\n\r\n"
        "deploy backend v1.4.1 to production\r\n"
    )
    mail.deliver(change)
    await mail.until(lambda: len(mail.smtp.to("alice@example.com")) == 2)
    mail.deliver(reply(first, "approve"))  # the token names the first plan
    await mail.until(lambda: len(mail.smtp.to("alice@example.com")) == 3)
    answer = mail.smtp.to("alice@example.com")[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "is no longer waiting for a decision (superseded by #" in answer
    await mail.settle(0.5)
    assert calls(mail.base) == []
    thread = await thread_of(mail.app, "e" + _hash("<req1@mail.example.com>"))
    assert not any(e.type == "approval_decided" for e in thread.events)
    assert thread.status == "awaiting_approval"


async def test_an_expired_token_is_refused(mail: Mail) -> None:
    mail.deliver(REQUEST)
    approval = await mail.approval_for("alice@example.com")
    mail.clock.advance(2 * 3600)
    mail.deliver(reply(approval, "approve"))
    await mail.until(lambda: bool(mail.smtp.to("alice@example.com")[1:]))
    assert "expired" in mail.smtp.to("alice@example.com")[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert calls(mail.base) == []


def _hash(message_id: str) -> str:
    import hashlib

    return hashlib.sha256(message_id.encode()).hexdigest()[:12]


async def test_an_address_refused_for_good_is_set_aside_and_the_others_sent(mail: Mail) -> None:
    mail.smtp.handler.unknown.add("alice@example.com")  # 550 no such user
    mail.deliver(REQUEST)
    await mail.until(lambda: bool(mail.smtp.to("dave@example.com")))
    await mail.until_async(lambda: mail.app.outbox.set_aside(), 1)
    await mail.settle(0.5)
    assert mail.smtp.to("alice@example.com") == []
    assert len(mail.smtp.to("dave@example.com")) == 1  # sent once, not again with a retry
    assert await mail.app.outbox.pending("email") == 0
    [(_id, fields)] = await mail.app.redis.xrange(mail.app.keys.outbox_dead())
    assert fields[b"reason"] == b"the mail server refused alice@example.com for good"


async def test_smtp_refusing_for_a_while_then_delivered_once(mail: Mail) -> None:
    mail.smtp.handler.refuse = True
    mail.deliver(REQUEST)
    await mail.settle(1.0)
    assert mail.smtp.messages == []
    mail.smtp.handler.refuse = False  # the outbox retries what failed (after 5 s idle)
    await mail.approval_for("alice@example.com")
    await mail.settle(0.5)
    assert len(mail.smtp.to("alice@example.com")) == 1
    assert len(mail.smtp.to("dave@example.com")) == 1


OURS_PASS = (
    "Authentication-Results: mx.example.com; spf=pass; dmarc=pass header.from=example.com\r\n"
)


@pytest.mark.parametrize(
    ("headers", "counts"),
    [
        pytest.param(OURS_PASS, True, id="dmarc=pass from our server"),
        pytest.param("", False, id="no Authentication-Results"),
        pytest.param(
            "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\r\n",
            False,
            id="dmarc=fail",
        ),
        pytest.param(
            "Authentication-Results: mx.evil.example.net; dmarc=pass header.from=example.com\r\n",
            False,
            id="pass from someone else's server",
        ),
        pytest.param(
            "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\r\n"
            + OURS_PASS,
            False,
            id="a forged pass below our server's fail",
        ),
    ],
)
async def test_with_dmarc_required_only_our_servers_pass_counts(
    dmarc_mail: Mail, headers: str, counts: bool
) -> None:
    mail = dmarc_mail
    mail.deliver(REQUEST.replace("Message-ID:", OURS_PASS + "Message-ID:"))
    approval = await mail.approval_for("alice@example.com")
    mail.deliver(reply(approval, "approve", headers=headers))
    if counts:
        await mail.until(lambda: len(calls(mail.base)) == 1)
    else:
        await mail.settle()
        assert calls(mail.base) == []
        thread = await thread_of(mail.app, "e" + _hash("<req1@mail.example.com>"))
        assert not any(e.type == "approval_decided" for e in thread.events)
        assert len(mail.smtp.to("alice@example.com")) == 1  # a spoof is never answered


async def test_with_dmarc_required_an_unauthenticated_request_starts_nothing(
    dmarc_mail: Mail,
) -> None:
    dmarc_mail.deliver(REQUEST)
    await dmarc_mail.settle()
    assert dmarc_mail.smtp.messages == []
    assert await dmarc_mail.app.store.recent_ids() == []
