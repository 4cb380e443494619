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

from bot.app.bootstrap import App
from bot.app.channels import email_channel
from bot.app.config_file import load_config
from bot.app.settings import Settings
from bot.core.thread.events import ApprovalDecided, ApprovalRequested, DecisionReceived
from channels.email.token import sign_token, verify_token
from tests.fakes.mail_servers import Dovecot, SmtpCapture
from tests.support import Clock, calls, make_app, thread_of, write_setup

SECRET = "s3cret"  # DEPLOYBOT_SECRET: reply tokens
WEBHOOK_SECRET = "hook-s3cret"  # DEPLOYBOT_WEBHOOK_SECRET: held by CI systems
AUTHSERV_ID = "mx.example.com"  # EMAIL_AUTHSERV_ID: our receiving server
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
    async with open_mail(tmp_path, dovecot, redis, key_prefix, require_dmarc=False) as opened:
        yield opened


@pytest.fixture
async def dmarc_mail(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str
) -> AsyncIterator[Mail]:
    async with open_mail(tmp_path, dovecot, redis, key_prefix, require_dmarc=True) as opened:
        yield opened


@pytest.fixture
async def default_mail(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str
) -> AsyncIterator[Mail]:
    """EMAIL_REQUIRE_DMARC not set at all: the default."""
    async with open_mail(tmp_path, dovecot, redis, key_prefix, require_dmarc=None) as opened:
        yield opened


@contextlib.asynccontextmanager
async def open_mail(
    tmp_path: Path,
    dovecot: Dovecot,
    redis: Redis,
    key_prefix: str,
    *,
    require_dmarc: bool | None,
    authserv_id: str = AUTHSERV_ID,
    notice_s: float = 0,
) -> AsyncIterator[Mail]:
    smtp = SmtpCapture()
    await smtp.start()
    clock = Clock()
    config = write_setup(tmp_path, emails={"carol": "carol@example.com"})
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    running = email_running(
        app,
        dovecot=dovecot,
        smtp=smtp,
        clock=clock,
        require_dmarc=require_dmarc,
        authserv_id=authserv_id,
        notice_s=notice_s,
    )
    async with running:
        yield Mail(app=app, dovecot=dovecot, smtp=smtp, clock=clock, base=tmp_path)
    await smtp.stop()


@contextlib.asynccontextmanager
async def email_running(
    app: App,
    *,
    dovecot: Dovecot,
    smtp: SmtpCapture,
    clock: Clock,
    require_dmarc: bool | None = False,
    authserv_id: str = AUTHSERV_ID,
    notice_s: float = 0,
) -> AsyncIterator[None]:
    """The app's mail listener (on Dovecot) and email deliverer (to aiosmtpd), running.

    ``require_dmarc``: EMAIL_REQUIRE_DMARC (None: not set, the default); ``authserv_id``:
    EMAIL_AUTHSERV_ID (by default ``mx.example.com``); ``notice_s``: EMAIL_REFUSAL_NOTICE_S.
    """
    settings = Settings(
        _env_file=None,
        imap_host="127.0.0.1",
        imap_port=dovecot.port,
        imap_username="deploybot",
        imap_password=SecretStr("pw"),
        imap_ssl=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        email_from="deploybot@example.com",
        deploybot_secret=SecretStr(SECRET),
        deploybot_webhook_secret=SecretStr(WEBHOOK_SECRET),
        email_require_dmarc=require_dmarc,
        email_authserv_id=authserv_id,
        email_refusal_notice_s=notice_s,
        redis_url="redis://unused",
    )
    listener, sender = email_channel(
        settings,
        config=app.context.config,
        ports=app.ports,
        clock=clock,
    )
    stop = asyncio.Event()
    await app.context.queue.ensure_group()
    tasks = [
        asyncio.create_task(listener.run(stop)),
        asyncio.create_task(
            app.context.outbox.run(channel="email", sender=sender, consumer="m1", stop=stop)
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
    decisions = [e for e in thread.events if isinstance(e, ApprovalDecided)]
    rejected = [e.reason for e in decisions if e.decision == "reject"]
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
    await mail.until_async(lambda: mail.app.context.outbox.set_aside(), 1)
    await mail.settle(0.5)
    assert mail.smtp.to("alice@example.com") == []
    assert len(mail.smtp.to("dave@example.com")) == 1  # sent once, not again with a retry
    assert await mail.app.context.outbox.pending("email") == 0
    dead = await mail.app.redis.xrange(mail.app.context.keys.outbox_dead())
    assert dead is not None
    [(_id, fields)] = dead
    assert fields is not None
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


def _ar(value: str) -> str:
    return f"Authentication-Results: {value}\r\n"


OURS_PASS = _ar(
    "mx.example.com; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"
)
OURS_FAIL = _ar(
    "mx.example.com; spf=fail smtp.mailfrom=evil.test; dmarc=fail (p=reject) "
    "header.from=example.com"
)
BORDER = (
    "Received: from out.example.com (out.example.com [198.51.100.5])\r\n"
    "\tby mx.example.com (Postfix) with ESMTPS id 4QxR2m0b1Gz9\r\n"
)
# Each attack: what a forger can get into the headers of a reply carrying alice's token.
ATTACKS = {
    "spoofed From: alice with her forwarded token, no dmarc pass": "",
    "dmarc=fail from our server": OURS_FAIL,
    "a pass in an SPF comment": _ar(
        "mx.example.com; spf=fail (mx.example.com: dmarc=pass header.from=example.com ) "
        "smtp.mailfrom=evil.test; dmarc=fail header.from=example.com"
    ),
    "a pass in smtp.mailfrom": _ar(
        "mx.example.com; spf=fail smtp.mailfrom=dmarc=pass@evil.test; "
        "dmarc=fail header.from=example.com"
    ),
    "a pass in smtp.helo": _ar(
        "mx.example.com; spf=none smtp.helo=dmarc=pass; dmarc=fail header.from=example.com"
    ),
    "a forged pass below our fail": OURS_FAIL + BORDER + OURS_PASS,
    "a forged pass below our border": BORDER + OURS_PASS,
    "our pass and our fail": OURS_PASS + OURS_FAIL,
    "a pass from another authserv-id": OURS_PASS.replace("mx.example.com", "mx.evil.test"),
    "a pass for another domain": OURS_PASS.replace("=example.com", "=evil.test"),
}  # fmt: skip


async def _request_approval(mail: Mail) -> EmailMessage:
    mail.deliver(REQUEST.replace("Message-ID:", OURS_PASS + "Message-ID:"))
    return await mail.approval_for("alice@example.com")


async def _nothing_decided(mail: Mail) -> None:
    await mail.settle()
    assert calls(mail.base) == []
    thread = await thread_of(mail.app, "e" + _hash("<req1@mail.example.com>"))
    assert not any(e.type in ("decision_received", "approval_decided") for e in thread.events)
    assert thread.status == "awaiting_approval"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_a_forged_approval_deploys_nothing_and_is_never_answered(
    dmarc_mail: Mail, attack: str
) -> None:
    mail = dmarc_mail
    approval = await _request_approval(mail)
    mail.deliver(reply(approval, "approve", headers=ATTACKS[attack]))
    await _nothing_decided(mail)
    assert len(mail.smtp.to("alice@example.com")) == 1  # a spoof is never answered


async def test_our_servers_pass_approves_and_deploys_once(dmarc_mail: Mail) -> None:
    mail = dmarc_mail
    approval = await _request_approval(mail)
    # Another server's header above ours and a forger's fail below our border (the
    # Received our MX wrote for the connection from outside) change nothing.
    headers = _ar("relay.example.org; none") + OURS_PASS + BORDER + OURS_FAIL
    mail.deliver(reply(approval, "approve", headers=headers))
    await mail.until(lambda: len(calls(mail.base)) == 1)
    mail.deliver(reply(approval, "approve", headers=OURS_PASS, n=2))  # once more
    await mail.settle()
    assert len(calls(mail.base)) == 1
    thread = await thread_of(mail.app, "e" + _hash("<req1@mail.example.com>"))
    [requested] = [e for e in thread.events if isinstance(e, ApprovalRequested)]
    [received, *_] = [e for e in thread.events if isinstance(e, DecisionReceived)]
    assert received.actor == "email:alice@example.com"
    assert received.plan_hash == requested.plan_hash[:12]  # from the signed token, as data


async def test_a_token_minted_with_the_webhook_secret_decides_nothing(dmarc_mail: Mail) -> None:
    mail = dmarc_mail
    approval = await _request_approval(mail)
    real = str(approval["Reply-To"]).split("+", 1)[1].split("@", 1)[0]
    claim = verify_token(
        real, secret=SECRET.encode(), address="alice@example.com", now=mail.clock()
    )
    forged = sign_token(  # what a CI system holding DEPLOYBOT_WEBHOOK_SECRET could mint
        secret=WEBHOOK_SECRET.encode(),
        thread_id=claim.thread_id,
        plan_hash=claim.plan_prefix,
        address="alice@example.com",
        expires_at=claim.expires_at,
    )
    forged_reply = reply(approval, "approve", headers=OURS_PASS)
    mail.deliver(forged_reply.replace(f"+{real}@", f"+{forged}@"))
    await mail.until(lambda: len(mail.smtp.to("alice@example.com")) == 2)
    answer = mail.smtp.to("alice@example.com")[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "not valid for this sender" in answer
    await _nothing_decided(mail)


async def test_with_dmarc_required_an_unauthenticated_request_starts_nothing(
    dmarc_mail: Mail,
) -> None:
    dmarc_mail.deliver(REQUEST)
    await dmarc_mail.settle()
    assert dmarc_mail.smtp.messages == []
    assert await dmarc_mail.app.context.store.recent_ids() == []


async def test_by_default_dmarc_is_required(default_mail: Mail) -> None:
    """EMAIL_REQUIRE_DMARC unset: a spoofed reply is ignored, our server's pass counts."""
    mail = default_mail
    approval = await _request_approval(mail)
    mail.deliver(reply(approval, "approve"))  # From: alice, her token, no pass
    await _nothing_decided(mail)
    mail.deliver(reply(approval, "approve", headers=OURS_PASS, n=2))
    await mail.until(lambda: len(calls(mail.base)) == 1)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "EMAIL_AUTHSERV_ID"),
        ({"email_require_dmarc": True}, "EMAIL_AUTHSERV_ID"),
        ({"email_require_dmarc": False, "deploybot_webhook_secret": SECRET}, "DEPLOYBOT_SECRET"),
    ],
)
def test_an_unsafe_email_setup_is_refused_with_a_clear_error(
    overrides: dict[str, object], named: str, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,
        imap_host="127.0.0.1",
        imap_username="deploybot",
        imap_password=SecretStr("pw"),
        smtp_host="127.0.0.1",
        email_from="deploybot@example.com",
        deploybot_secret=SecretStr(SECRET),
        **overrides,  # type: ignore[arg-type]
    )
    app_config = load_config(write_setup(tmp_path))
    with pytest.raises(ValueError, match=named):
        email_channel(
            settings,
            config=app_config,
            ports=None,  # type: ignore[arg-type]  # never reached
            clock=Clock(),
        )
