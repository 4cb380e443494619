"""Messages as a real MX delivered them (tests/fixtures/mail), put into a real Dovecot.

The fixtures came through Postfix with OpenDKIM and OpenDMARC in both milter orders
(tests/fixtures/mail/capture.py). Here the worker, the mail listener and the email deliverer
run on real Redis with the counting deploy script: a genuine approval that went through the
OpenDMARC-first order (where the old topmost-only rule saw "no dmarc result") deploys once;
each forgery deploys nothing, is never answered, and shows up in /metrics and in
``deploybot audit`` (who it claimed to be, why it was refused).
"""

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.webapp import metrics_text
from bot.core.thread.events import DecisionReceived
from bot.shell.streams.refusals import MailRefusals
from tests.conftest import TEST_REDIS_URL
from tests.fakes.mail_servers import Dovecot
from tests.integration.channels.email.test_email_flow import Mail, open_mail
from tests.support import calls, thread_of

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "mail"
PLACEHOLDER = "deploybot+replytoken@example.com"  # the fixtures' reply address
FORGED = {  # fixture -> the reasons it may be refused for (OpenDMARC-first believed two)
    "forged-spoof": {"dmarc_fail"},
    "forged-evil-envelope": {"dmarc_fail"},
    "forged-ar": {"dmarc_fail", "unbacked"},
    "forged-ar-mx2": {"dmarc_fail"},
    "forged-received-ar": {"dmarc_fail", "unbacked"},
    "forged-helo-mx2": {"dmarc_fail"},
    "forged-via-mx2": {"dmarc_fail"},
}
METRIC = re.compile(r'^deploybot_email_refused_total\{reason="([a-z_]+)"\} (\d+)$', re.M)


def fixture(order: str, name: str, *, reply_to: str = PLACEHOLDER) -> str:
    """A delivered message, its placeholder reply address replaced by a real one."""
    text = (FIXTURES / order / f"{name}.eml").read_text()
    assert PLACEHOLDER in text or name == "request"
    return text.replace(PLACEHOLDER, reply_to)


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
    """EMAIL_REQUIRE_DMARC unset (the default), both MXes' ids in EMAIL_AUTHSERV_ID."""
    ids = "mx.example.com,mx2.example.com"
    async with open_mail(
        tmp_path, dovecot, redis, key_prefix, require_dmarc=None, authserv_id=ids
    ) as opened:
        yield opened


def thread_id(order: str) -> str:
    import hashlib

    return "e" + hashlib.sha256(f"<{order}.request@out.example.com>".encode()).hexdigest()[:12]


async def _approval_reply_to(mail: Mail, order: str) -> str:
    mail.deliver(fixture(order, "request"))
    approval = await mail.approval_for("alice@example.com")
    return str(approval["Reply-To"])


@pytest.mark.parametrize("name", ["approval", "approval-via-mx2"])
async def test_a_genuine_approval_through_opendmarc_first_deploys_once(
    mail: Mail, name: str
) -> None:
    reply_to = await _approval_reply_to(mail, "dmarc-first")
    mail.deliver(fixture("dmarc-first", name, reply_to=reply_to))
    await mail.until(lambda: len(calls(mail.base)) == 1)
    mail.deliver(fixture("dmarc-first", name, reply_to=reply_to))  # delivered twice
    await mail.settle()
    assert len(calls(mail.base)) == 1
    thread = await thread_of(mail.app, thread_id("dmarc-first"))
    [decided, *_] = [e for e in thread.events if isinstance(e, DecisionReceived)]
    assert decided.actor == "email:alice@example.com"
    assert (
        await MailRefusals(redis=mail.app.redis, keys=mail.app.context.keys).since(mail.clock())
        == []
    )


@pytest.mark.parametrize("order", ["dkim-first", "dmarc-first"])
async def test_forgeries_deploy_nothing_and_are_counted_and_audited(
    mail: Mail, order: str, key_prefix: str
) -> None:
    reply_to = await _approval_reply_to(mail, order)
    for name in FORGED:
        mail.deliver(fixture(order, name, reply_to=reply_to))
    refusals = MailRefusals(redis=mail.app.redis, keys=mail.app.context.keys)
    await mail.until_async(lambda: _count(refusals, mail), len(FORGED), timeout_s=60)
    await mail.settle(1.0)
    assert calls(mail.base) == []
    assert len(mail.smtp.to("alice@example.com")) == 1  # only the approval request: never
    thread = await thread_of(mail.app, thread_id(order))  # answered, nothing decided
    assert not any(e.type in ("decision_received", "approval_decided") for e in thread.events)
    assert thread.status == "awaiting_approval"

    counted = {k: int(v) for k, v in METRIC.findall(await metrics_text(mail.app))}
    assert sum(counted.values()) == len(FORGED), counted
    assert set(counted) <= set().union(*FORGED.values())

    records = await _audit(mail, key_prefix)
    refused = [r for r in records if r["event"] == "email_refused"]
    assert len(refused) == len(FORGED)
    for record in refused:
        name = record["message_id"].split(".", 1)[1].split("@", 1)[0]
        assert (record["claimed"], record["person"]) == ("alice@example.com", "alice")
        assert record["kind"] in FORGED[name], record
        assert record["reason"]

    # The channel still works: the genuine approval, delivered after all that, deploys once.
    mail.deliver(fixture(order, "approval", reply_to=reply_to))
    await mail.until(lambda: len(calls(mail.base)) == 1)


async def test_the_person_a_forgery_claimed_to_be_is_told_once_never_the_sender(
    tmp_path: Path, dovecot: Dovecot, redis: Redis, key_prefix: str
) -> None:
    """EMAIL_REFUSAL_NOTICE_S set: alice hears about forgeries in her name at her address
    from [people], once per interval however many arrive; the forger's envelope address
    (x@evil.test) and anyone else hear nothing."""
    async with open_mail(
        tmp_path, dovecot, redis, key_prefix, require_dmarc=True, notice_s=3600
    ) as mail:
        reply_to = await _approval_reply_to(mail, "dkim-first")
        forged = ["forged-spoof", "forged-ar", "forged-evil-envelope"]
        for name in forged:
            mail.deliver(fixture("dkim-first", name, reply_to=reply_to))
        await mail.until(lambda: len(mail.smtp.to("alice@example.com")) == 2)
        await mail.settle(1.5)
        _approval, notice = mail.smtp.to("alice@example.com")
        assert notice["Subject"] == "[deploybot] a message in your name was refused"
        body = notice.get_body(("plain",))
        assert body is not None
        text = body.get_content()  # type: ignore[attr-defined]
        assert "A message in your name (alice@example.com)" in text
        assert "Nothing was requested or decided" in text
        assert "Re: [deploybot] approve" not in text  # nothing of the forged mail's text
        assert {r for rcpts, _m in mail.smtp.messages for r in rcpts} == {
            "alice@example.com",
            "dave@example.com",
        }
        assert calls(mail.base) == []
        refusals = MailRefusals(redis=mail.app.redis, keys=mail.app.context.keys)
        assert len(await refusals.since(mail.clock())) == len(forged)


async def _count(refusals: MailRefusals, mail: Mail) -> int:
    return len(await refusals.since(mail.clock()))


async def _audit(mail: Mail, key_prefix: str) -> list[dict[str, str]]:
    """``deploybot audit`` as its own process, over the window of the test clock's day."""
    env = {
        **os.environ,
        "REDIS_URL": TEST_REDIS_URL,
        "DEPLOYBOT_CONFIG": str(mail.base / "deploybot.toml"),
        "DEPLOYBOT_KEY_PREFIX": key_prefix,
    }
    since = mail.clock().replace(hour=0, minute=0).isoformat()
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "audit", "--since", since],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
