"""EmailSender against a real aiosmtpd server: threading headers, STARTTLS, retries."""

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import pytest
from redis.asyncio import Redis

from bot.core.ports.outbound import ApprovalCard, OutboundMessage
from bot.core.thread.origin import EmailOrigin
from bot.core.thread.plan import Plan
from bot.shell.store.channel_state import RedisMailState
from bot.shell.store.keys import Keys
from bot.shell.streams.outbox import Outbox
from channels.email.sender import EmailSender, SmtpServer
from channels.email.token import verify_token
from tests.fakes.mail_servers import SmtpCapture, make_certificate

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = b"s3cret"
ORIGIN = EmailOrigin(
    address="dave@example.com", subject="deploy backend", message_ids=["<req1@mail.example.com>"]
)


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpCapture]:
    server = SmtpCapture()
    await server.start()
    yield server
    await server.stop()


def sender(smtp: SmtpCapture, redis: Redis, prefix: str, **kw: object) -> EmailSender:
    return EmailSender(
        smtp=SmtpServer(host="127.0.0.1", port=smtp.port, timeout_s=5, **kw),  # type: ignore[arg-type]
        from_address="deploybot@example.com",
        secret=SECRET,
        emails={"alice": "alice@example.com", "dave": "dave@example.com"},
        state=RedisMailState(redis=redis, keys=Keys(prefix)),
        clock=lambda: NOW,
    )


def message(text: str = "Deployed backend v1.4.2 to staging.", **kw: object) -> OutboundMessage:
    return OutboundMessage(
        thread_id="e0123456789ab",
        message_id="id000007",
        origin=ORIGIN,
        text=text,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_reply_is_threaded_and_marked_automatic(
    smtp: SmtpCapture, redis: Redis, key_prefix: str
) -> None:
    await sender(smtp, redis, key_prefix).send(message())
    [(rcpts, mail)] = smtp.messages
    assert rcpts == ["dave@example.com"]
    assert mail["Subject"] == "Re: deploy backend"
    assert mail["In-Reply-To"] == "<req1@mail.example.com>"
    assert mail["References"] == "<req1@mail.example.com>"
    assert mail["Message-ID"] == "<deploybot.e0123456789ab.id000007@example.com>"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail.get_body(("plain",)).get_content().strip() == "Deployed backend v1.4.2 to staging."  # type: ignore[union-attr]
    assert "<p>Deployed backend" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_progress_updates_are_not_mailed(
    smtp: SmtpCapture, redis: Redis, key_prefix: str
) -> None:
    await sender(smtp, redis, key_prefix).send(message(purpose="progress"))
    assert smtp.messages == []


async def test_approval_requests_go_to_each_approver_with_a_personal_token(
    smtp: SmtpCapture, redis: Redis, key_prefix: str
) -> None:
    plan = Plan(
        kind="deploy",
        service="backend",
        environment="production",
        version="v1.4.2",
        sha="a" * 40,
        requester="dave",
    )
    card = ApprovalCard(
        plan=plan,
        plan_hash=plan.plan_hash,
        approvers=["alice", "bob"],
        min_approvals=1,
        expires_at=NOW + timedelta(hours=1),
    )
    await sender(smtp, redis, key_prefix).send(
        message("Plan #abcd ...", purpose="approval_request", card=card)
    )
    assert len(smtp.to("dave@example.com")) == 1
    [approval] = smtp.to("alice@example.com")
    body = approval.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "'approve' or 'reject <reason>' on the first line" in body
    token = approval["Reply-To"].split("+", 1)[1].split("@")[0]
    claim = verify_token(token, secret=SECRET, address="alice@example.com", now=NOW)
    assert claim.thread_id == "e0123456789ab"
    assert plan.plan_hash.startswith(claim.plan_prefix)


async def test_starttls_is_used_when_offered(tmp_path: Path, redis: Redis, key_prefix: str) -> None:
    cert, key = make_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    smtp = SmtpCapture(tls=server_tls)
    await smtp.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        await sender(smtp, redis, key_prefix, tls_context=client_tls).send(message())
        assert smtp.handler.tls_used == [True]
    finally:
        await smtp.stop()


async def test_smtp_refusing_raises_and_the_outbox_delivers_once_later(
    smtp: SmtpCapture, redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    outbox = Outbox(redis=redis, keys=keys)
    await outbox.ensure_group("email")
    email_sender = sender(smtp, redis, key_prefix)
    smtp.handler.refuse = True
    with pytest.raises(aiosmtplib.SMTPException):
        await email_sender.send(message())
    await outbox.send_transient(message())
    assert (
        await outbox.deliver_some(channel="email", sender=email_sender, consumer="m", block_ms=None)
        == 0
    )
    smtp.handler.refuse = False
    sent = 0
    for _ in range(3):  # retried, then nothing left to send
        sent += await outbox.deliver_some(
            channel="email", sender=email_sender, consumer="m", block_ms=None, retry_idle_ms=0
        )
    await outbox.send_transient(message())  # enqueued again: already delivered, skipped
    sent += await outbox.deliver_some(
        channel="email", sender=email_sender, consumer="m", block_ms=None
    )
    assert sent == 1
    assert len(smtp.messages) == 1


async def test_smtp_down_raises(redis: Redis, key_prefix: str) -> None:
    smtp = SmtpCapture()
    await smtp.start()
    await smtp.stop()  # the port is now closed
    with pytest.raises((aiosmtplib.SMTPException, OSError)):
        await sender(smtp, redis, key_prefix).send(message())
