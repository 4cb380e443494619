"""Across channels: an environment's ``approval_channel`` sends approval requests to another
channel than the thread's; whichever channel decides first wins and the others are told.

Slack: the real Bolt app over HTTP and slack_sdk against the fake Web API. Email: Dovecot
holds the bot's mailbox, aiosmtpd captures what the bot sends. Real Redis, git and scripts.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.core.thread.thread import Thread
from channels.email.triage import thread_id_for_mail
from tests.fakes.mail_servers import Dovecot, SmtpCapture
from tests.integration.channels.email.test_email_flow import email_running, reply
from tests.integration.channels.slack.test_slack import CHANNEL, REQUEST, Harness, open_harness
from tests.support import calls, write_setup

APPROVALS = "C0APPROVALS"  # a Slack channel only for approvals
EMAIL_REQUEST = (
    "From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\nSubject: ship it\r\n"
    "Message-ID: <req1@mail.example.com>\r\n\r\ndeploy backend v1.4.2 to production\r\n"
)


@dataclass
class Both:
    """Slack and email around one App."""

    slack: Harness
    dovecot: Dovecot
    smtp: SmtpCapture

    async def until(self, done: Callable[[], bool], timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert time.monotonic() < deadline, "timed out"
            await self.slack.pump()
            await asyncio.sleep(0.05)

    async def settle(self, s: float = 1.5) -> None:
        deadline = time.monotonic() + s
        while time.monotonic() < deadline:
            await self.slack.pump()
            await asyncio.sleep(0.05)

    def mails(self, address: str) -> list[EmailMessage]:
        return self.smtp.to(address)

    def texts(self, address: str) -> list[str]:
        out = []
        for message in self.mails(address):
            part = message.get_body(("plain",))
            assert isinstance(part, EmailMessage)
            out.append(part.get_content())
        return out

    async def thread(self, thread_id: str) -> Thread:
        found = await self.slack.app.context.store.load(thread_id)
        assert found is not None
        return found


@contextlib.asynccontextmanager
async def both_channels(
    redis: Redis, key_prefix: str, tmp_path: Path, *, approval_channel: str
) -> AsyncIterator[Both]:
    config = write_setup(tmp_path, production=f'approval_channel = "{approval_channel}"')
    (tmp_path / "dovecot").mkdir()
    dovecot = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    dovecot.start()
    smtp = SmtpCapture()
    await smtp.start()
    try:
        async with (
            open_harness(redis, key_prefix, tmp_path, config=config) as slack,
            email_running(slack.app, dovecot=dovecot, smtp=smtp, clock=slack.clock),
        ):
            yield Both(slack=slack, dovecot=dovecot, smtp=smtp)
    finally:
        await smtp.stop()
        dovecot.stop()


@pytest.fixture
async def slack_to_email(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Both]:
    route = "email:alice@example.com,dave@example.com"
    async with both_channels(redis, key_prefix, tmp_path, approval_channel=route) as both:
        yield both


@pytest.fixture
async def email_to_slack(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Both]:
    async with both_channels(
        redis, key_prefix, tmp_path, approval_channel=f"slack:{APPROVALS}"
    ) as both:
        yield both


async def test_a_slack_request_is_approved_by_email_and_slack_is_told(
    slack_to_email: Both,
) -> None:
    both = slack_to_email
    slack = both.slack
    assert await slack.say(REQUEST, user="U0CAROL") == 200
    await both.until(
        lambda: bool(
            both.mails("alice@example.com")
            and both.mails("dave@example.com")
            and slack.fake.messages
        )
    )
    card = slack.card()  # the request is in the Slack thread as always ...
    [to_alice] = both.mails("alice@example.com")  # ... and in the approval channel: email
    [to_dave] = both.mails("dave@example.com")
    assert to_alice["Reply-To"] != to_dave["Reply-To"]  # each a personal token
    assert to_alice["Subject"] == "[deploybot] deploy backend v1.4.2 to production"
    assert "'approve' or 'reject <reason>' on the first line" in both.texts("alice@example.com")[0]
    thread = await slack.thread()
    assert thread.status == "awaiting_approval"

    both.dovecot.save("deploybot", reply(to_alice, "approve").encode())
    await both.until(lambda: len(calls(slack.base)) == 1)
    await both.until(lambda: "is live" in slack.fake.messages[(CHANNEL, card["ts"])]["text"])
    after = slack.fake.messages[(CHANNEL, card["ts"])]
    assert "deploybot_approve" not in json.dumps(after)  # Slack is told: the buttons are gone
    assert "approved by alice" in json.dumps(after)
    # Dave, asked by email too, is told it is settled, in the same email thread.
    await both.until(lambda: len(both.mails("dave@example.com")) == 2)
    told = both.mails("dave@example.com")[-1]
    assert "approved by alice" in both.texts("dave@example.com")[-1]
    assert told["In-Reply-To"] == to_dave["In-Reply-To"]
    assert told["Subject"] == to_dave["Subject"]

    # Late answers from either channel change nothing, and each is told where it answered.
    assert await slack.click("U0BOB", card) == 200
    both.dovecot.save(
        "deploybot", reply(to_dave, "approve", sender="dave@example.com", n=2).encode()
    )
    await both.until(
        lambda: len(both.mails("dave@example.com")) == 3 and bool(slack.ephemeral("U0BOB"))
    )
    assert slack.ephemeral("U0BOB")[0].endswith(
        "already approved and deployed; nothing was changed."
    )
    assert "already approved and deployed" in both.texts("dave@example.com")[-1]
    await both.settle()
    assert len(calls(slack.base)) == 1
    thread = await slack.thread()
    decided = [e for e in thread.events if e.type == "approval_decided"]
    assert [(e.person, e.actor) for e in decided] == [("alice", "email:alice@example.com")]  # type: ignore[union-attr]
    assert thread.status == "done"


async def test_an_email_request_is_approved_in_slack_and_email_is_told(
    email_to_slack: Both,
) -> None:
    both = email_to_slack
    slack = both.slack
    both.dovecot.save("deploybot", EMAIL_REQUEST.encode())
    await both.until(lambda: bool(slack.cards(APPROVALS)) and bool(both.mails("alice@example.com")))
    [card] = slack.cards(APPROVALS)
    assert "thread_ts" not in card or card["thread_ts"] is None  # a new Slack thread there
    assert "<@U0ALICE>" in json.dumps(card["blocks"])
    thread_id = thread_id_for_mail("<req1@mail.example.com>")

    assert await slack.click("U0CAROL", card) == 200  # not an approver: told in Slack only
    assert await slack.click("U0ALICE", card) == 200
    await both.until(lambda: len(calls(slack.base)) == 1)
    await both.until(lambda: any("is live" in t for t in both.texts("dave@example.com")))
    assert slack.ephemeral("U0CAROL") == [
        "carol can't approve deploys to production; approvers: alice, bob, dave."
    ]
    closed = slack.fake.messages[(APPROVALS, card["ts"])]
    assert "deploybot_approve" not in json.dumps(closed)
    # The requester's email thread and alice's approval email are told of the decision.
    assert any("approved by alice" in t for t in both.texts("dave@example.com"))
    await both.until(lambda: len(both.mails("alice@example.com")) == 2)
    assert "approved by alice" in both.texts("alice@example.com")[-1]
    for message in both.mails("dave@example.com"):
        assert message["In-Reply-To"] == "<req1@mail.example.com>"
    thread = await both.thread(thread_id)
    assert thread.status == "done"
    assert [e.type for e in thread.events].count("deploy_started") == 1


async def test_decisions_racing_from_two_channels_the_first_wins(slack_to_email: Both) -> None:
    both = slack_to_email
    slack = both.slack
    await slack.say(REQUEST, user="U0CAROL")
    await both.until(lambda: bool(both.mails("dave@example.com")) and bool(slack.fake.messages))
    card = slack.card()
    [to_dave] = both.mails("dave@example.com")
    # Both answers are in the stream before any worker looks: dave's by email, then bob's
    # click in Slack. The thread's compare-and-set lets exactly one decision count.
    both.dovecot.save("deploybot", reply(to_dave, "approve", sender="dave@example.com").encode())
    inbound = await slack.inbound()
    deadline = time.monotonic() + 20
    while await slack.inbound() == inbound:  # the listener has published the email
        assert time.monotonic() < deadline, "the mail listener published nothing"
        await asyncio.sleep(0.05)
    assert await slack.click("U0BOB", card) == 200
    await both.until(lambda: bool(slack.ephemeral("U0BOB")))
    await both.settle()
    thread = await slack.thread()
    decided = [e for e in thread.events if e.type == "approval_decided"]
    assert [e.person for e in decided] == ["dave"]  # type: ignore[union-attr]
    assert len(calls(slack.base)) == 1
    [late] = slack.ephemeral("U0BOB")  # the loser is told, in the channel it used
    assert "already approved" in late or "no longer waiting" in late
    after = slack.fake.messages[(CHANNEL, card["ts"])]
    assert "approved by dave" in json.dumps(after)
