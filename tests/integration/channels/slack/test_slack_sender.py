"""The Slack deliverer against the fake Web API: 429s, edits, ephemeral fallbacks, retries,
and a long deploy's progress edited into one message."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError

from bot.app.bootstrap import bootstrap
from bot.app.settings import Settings
from bot.core.ports.channel_state import Posted
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.events import UserMessage
from bot.core.thread.origin import ScheduleOrigin, SlackOrigin
from bot.shell.streams.inbound import Envelope
from channels.slack import ChannelPacer, slack_sender
from tests.fakes.slack_api import FakeSlack, event
from tests.integration.channels.slack.test_slack import (
    CHANNEL,
    REQUEST,
    ROOT,
    Harness,
    open_harness,
)
from tests.support import Clock, ScriptedAgent, calls, write_setup

ORIGIN = SlackOrigin(channel=CHANNEL, thread_ts=ROOT)


@pytest.fixture
async def slack(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(redis, key_prefix, tmp_path) as harness:
        yield harness


def message(message_id: str, text: str = "hello", **kw: object) -> OutboundMessage:
    fields: dict[str, object] = {"thread_id": "s1", "message_id": message_id, "origin": ORIGIN}
    return OutboundMessage.model_validate(fields | {"text": text} | kw)


async def test_a_429_is_retried_after_retry_after_and_the_message_is_sent_once(
    slack: Harness,
) -> None:
    slack.fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after_s=1)
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    attempts = slack.fake.called("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert len(slack.fake.thread(CHANNEL, ROOT)) == 1
    assert await slack.app.context.outbox.pending("slack") == 0


async def test_edits_sends_and_fallbacks(slack: Harness) -> None:
    sender, fake = slack.sender, slack.fake
    await sender.send(message("m1", "first"))
    await sender.send(message("m1", "first"))  # delivered twice by the outbox: posted once
    assert len(fake.called("chat.postMessage")) == 1
    await sender.send(message("m2", "second", replaces="m1"))
    (update,) = fake.called("chat.update")
    assert (update.args["ts"], update.args["text"]) == (fake.calls[-1].args["ts"], "second")
    await sender.send(message("m3", "third", replaces="never-posted"))  # posted anew
    assert [c.args["text"] for c in fake.called("chat.postMessage")] == ["first", "third"]

    # Slack lost the message (deleted): the edit becomes a new reply.
    await slack.app.ports.slack.remember_posted("s1", "gone", Posted(channel=CHANNEL, ts="9.9"))
    await sender.send(message("m4", "fourth", replaces="gone"))
    assert fake.called("chat.postMessage")[-1].args["text"] == "fourth"

    # A refusal for someone not in the channel is said in the thread instead.
    fake.fail("chat.postEphemeral", error="user_not_in_channel")
    await sender.send(message("m5", "you can't", to="slack:U0CAROL"))
    assert fake.called("chat.postMessage")[-1].args["text"] == "<@U0CAROL> you can't"
    # One for a person on another channel is said in the thread too.
    await sender.send(message("m6", "dave can't", to="email:dave@example.com"))
    assert fake.called("chat.postMessage")[-1].args["text"] == "dave can't"
    assert all(m["thread_ts"] == ROOT for m in fake.messages.values())


async def test_other_failures_raise_and_the_outbox_retries(slack: Harness) -> None:
    slack.fake.fail("chat.postMessage", error="ratelimited_by_proxy")
    with pytest.raises(SlackApiError):
        await slack.sender.send(message("m1"))
    await slack.say(REQUEST, user="U0CAROL")
    slack.fake.fail("chat.postMessage", error="internal_error")
    await slack.app.worker.run_until_idle()
    outbox = slack.app.context.outbox
    await outbox.ensure_group("slack")
    assert (
        await outbox.deliver_some(channel="slack", sender=slack.sender, consumer="t", block_ms=None)
        == 0
    )
    assert await outbox.pending("slack") == 1
    sent = await outbox.deliver_some(
        channel="slack", sender=slack.sender, consumer="t", block_ms=None, retry_idle_ms=0
    )
    assert sent == 1
    assert await outbox.pending("slack") == 0
    assert len(slack.fake.thread(CHANNEL, ROOT)) == 1


async def test_a_long_deploy_edits_one_message_with_progress_then_the_result(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path)
    (tmp_path / "scripts" / "sleep_s").write_text("0.9")
    settings = Settings(
        deploybot_key_prefix=key_prefix, deploybot_tags_cache_s=0, anthropic_api_key=None
    )
    agent = ScriptedAgent()
    app = bootstrap(
        settings,
        config_file=config,
        redis=redis,
        agents={"deploy": agent, "rollback": agent},
        clock=Clock(),
        progress_every_s=0.2,
    )
    async with FakeSlack() as fake:
        sender = slack_sender(
            bot_token=fake.token,
            api_url=fake.base_url,
            state=app.ports.slack,
            config=app.context.config,
            pacer=ChannelPacer(interval_s=0),  # every progress step shown (no coalescing)
        )
        await app.context.queue.publish(
            Envelope(
                thread_id="s1",
                event=UserMessage(
                    id="Ev1", at=Clock()(), actor="slack:U0CAROL", text="deploy backend to staging"
                ),
                origin=ORIGIN,
            )
        )
        await app.worker.run_until_idle()
        await app.context.outbox.ensure_group("slack")
        await app.context.outbox.deliver_some(
            channel="slack", sender=sender, consumer="t", block_ms=None
        )
    assert len(calls(tmp_path)) == 1
    (start,) = fake.called("chat.postMessage")
    assert start.args["text"].startswith("Deploying backend v1.4.2 to staging ...")
    edits = fake.called("chat.update")
    assert len(edits) >= 3  # progress (elapsed, last output line) then the result
    assert {e.args["ts"] for e in edits} == {start.result["ts"]}
    assert any(
        'Last output: "deploying backend v1.4.2 to staging"' in e.args["text"] for e in edits
    )
    assert "ok in" in edits[-1].args["text"]
    assert fake.messages[(CHANNEL, start.result["ts"])]["text"] == edits[-1].args["text"]


async def test_a_schedule_reporting_to_slack_opens_a_thread_that_replies_continue(
    slack: Harness,
) -> None:
    origin = ScheduleOrigin(name="nightly", report_to="slack:C0REPORTS")
    first = message("m1", "Plan #3f2a: backend v1.4.2 -> production", origin=origin)
    await slack.sender.send(first.model_copy(update={"thread_id": "nightly-1"}))
    await slack.sender.send(message("m2", "second", origin=origin, thread_id="nightly-1"))
    root, reply = slack.fake.called("chat.postMessage")
    assert root.args["channel"] == "C0REPORTS"
    assert "thread_ts" not in root.args  # the first report opens the Slack thread
    assert reply.args["thread_ts"] == root.result["ts"]

    said = event(
        "approve",
        kind="message",
        user="U0BOB",
        ts="1700000900.000001",
        thread_ts=root.result["ts"],
        event_id="EvREPLY",
        channel="C0REPORTS",
    )
    assert (await slack.post.event(said))[0] == 200
    ((_id, fields),) = await slack.app.redis.xrange(slack.app.context.keys.inbound())
    assert Envelope.model_validate_json(fields[b"e"]).thread_id == "nightly-1"


async def test_a_channel_that_does_not_exist_sets_the_message_aside(slack: Harness) -> None:
    """A refusal no retry can mend is set aside with its reason, not retried for ever."""
    outbox = slack.app.context.outbox
    await outbox.ensure_group("slack")
    await slack.say(REQUEST, user="U0CAROL")
    await slack.app.worker.run_until_idle()
    slack.fake.fail("chat.postMessage", error="channel_not_found")
    sent = await outbox.deliver_some(
        channel="slack", sender=slack.sender, consumer="t", block_ms=None
    )
    assert sent == 0
    assert await outbox.pending("slack") == 0  # not retried
    assert await outbox.set_aside() == 1
    [(_id, fields)] = await slack.app.redis.xrange(slack.app.context.keys.outbox_dead())
    assert fields[b"reason"] == b"slack refused it: channel_not_found"
    assert b"approval_request" in fields[b"m"]  # the message itself is kept
    # Later messages of the thread still go out.
    await slack.say("status", user="U0CAROL", ts="1700000003.1", thread_ts=ROOT)
    await slack.pump()
    assert slack.fake.thread(CHANNEL, ROOT)
