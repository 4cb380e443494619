"""Slack over HTTP: signed events, clicks, modals and /deploy posted to the real Bolt app;
replies delivered by the real slack_sdk client to a fake Web API; real Redis, git, scripts.

``open_harness`` is shared with ``test_slack_sender.py``.
"""

import asyncio
import contextlib
import json
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette

from bot.app.bootstrap import App
from bot.app.webapp import build_web_app
from bot.core.thread.thread import Thread
from channels.slack import SlackListeners, SlackSender, slack_listeners, slack_routes, slack_sender
from channels.slack.ids import thread_id_for
from tests.fakes.slack_api import TEAM, FakeSlack, SlackPoster, click, event, reject_submission
from tests.fakes.slack_api import slash as slash_command
from tests.support import Clock, calls, make_app, write_setup

SECRET = "test-signing-secret"
CHANNEL = "C0DEPLOYS"
ROOT = "1700000001.000001"
REQUEST = "<@U0BOT> deploy backend v1.4.2 to production"


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """The ASGI app on uvicorn on a free local port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class Harness:
    app: App
    fake: FakeSlack
    listeners: SlackListeners
    sender: SlackSender
    post: SlackPoster
    base: Path
    clock: Clock
    _ts: int = 0

    async def pump(self) -> None:
        """Run the worker and the Slack deliverer until nothing is left to do."""
        await self.app.context.outbox.ensure_group("slack")
        for _ in range(50):
            handled = await self.app.worker.run_until_idle()
            sent = await self.app.context.outbox.deliver_some(
                channel="slack", sender=self.sender, consumer="t", block_ms=None
            )
            if not handled and not sent:
                return
        raise AssertionError("still busy after 50 rounds")

    async def say(
        self,
        text: str,
        *,
        user: str,
        ts: str = ROOT,
        thread_ts: str | None = None,
        event_id: str | None = None,
        **extra: Any,
    ) -> int:
        body = event(
            text,
            user=user,
            ts=ts,
            thread_ts=thread_ts,
            event_id=event_id or f"Ev{ts}",
            channel=CHANNEL,
            **extra,
        )
        status, _ = await self.post.event(body)
        return status

    def card(self, index: int = -1) -> dict[str, Any]:
        """An approval card as first posted (with its ``ts``)."""
        return self.cards()[index]

    def cards(self, channel: str | None = None) -> list[dict[str, Any]]:
        """The approval cards posted (in ``channel``), as first posted, oldest first."""
        return [
            {**c.args, "ts": c.result["ts"]}
            for c in self.fake.called("chat.postMessage")
            if "deploybot_approve" in json.dumps(c.args)
            and (channel is None or c.args["channel"] == channel)
        ]

    async def click(self, user: str, card: dict[str, Any], action: str = "approve") -> int:
        self._ts += 1
        value = next(
            e["value"]
            for b in card["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == f"deploybot_{action}"
        )
        payload = click(
            f"deploybot_{action}",
            value,
            user=user,
            channel=card["channel"],
            message_ts=card["ts"],
            thread_ts=card.get("thread_ts") or card["ts"],  # a card that opened its thread
            action_ts=f"1700000500.{self._ts:06d}",
            trigger_id=f"trigger-{self._ts}",
        )
        status, _ = await self.post.interactive(payload)
        return status

    def ephemeral(self, user: str) -> list[str]:
        return [
            c.args["text"] for c in self.fake.called("chat.postEphemeral") if c.args["user"] == user
        ]

    async def thread(self, root: str = ROOT) -> Thread:
        found = await self.app.context.store.load(thread_id_for(TEAM, CHANNEL, root))
        assert found is not None
        return found

    async def inbound(self) -> int:
        return int(await self.app.redis.xlen(self.app.context.keys.inbound()))


@contextlib.asynccontextmanager
async def open_harness(
    redis: Redis, key_prefix: str, tmp_path: Path, *, config: Path | None = None
) -> AsyncIterator[Harness]:
    """The bot's Slack side on real Redis, the fake Web API, the Bolt app served over HTTP."""
    clock = Clock()
    config = config or write_setup(tmp_path)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    async with FakeSlack() as fake:
        listeners = slack_listeners(
            bot_token=fake.token,
            signing_secret=SECRET,
            api_url=fake.base_url,
            ports=app.ports,
            clock=clock,
        )
        sender = slack_sender(
            bot_token=fake.token,
            api_url=fake.base_url,
            state=app.ports.slack,
            config=app.context.config,
        )
        web = build_web_app(app, routes=slack_routes(listeners))  # with its body caps
        async with serving(web) as url, SlackPoster(f"{url}/slack/events", SECRET) as post:
            yield Harness(app, fake, listeners, sender, post, tmp_path, clock)


@pytest.fixture
async def slack(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with open_harness(redis, key_prefix, tmp_path) as harness:
        yield harness


def visible(message: dict[str, Any]) -> str:
    """What a Slack message shows: its blocks' text, or its text."""
    blocks = message.get("blocks")
    return json.dumps(blocks, ensure_ascii=False) if blocks else str(message["text"])


# -- the whole flow ---------------------------------------------------------------------


async def test_mention_to_approved_deploy_in_one_slack_thread(slack: Harness) -> None:
    assert await slack.say(REQUEST, user="U0ALICE") == 200
    await slack.pump()
    card = slack.card()
    assert card["thread_ts"] == ROOT
    assert card["channel"] == CHANNEL
    shown = visible(card)
    thread = await slack.thread()
    plan = thread.open_approval()
    assert plan is not None
    for part in ("v1.4.2", plan.plan.sha[:7], "fix login timeout", "production", "<@U0ALICE>"):
        assert part in shown
    assert "*Approvers*\\n<@U0BOB>, dave" in shown  # alice asked: she may not approve
    assert f"{thread.id}:{plan.plan.plan_hash}" in shown  # the buttons name the plan

    assert await slack.click("U0CAROL", card) == 200  # not an approver
    assert await slack.click("U0ALICE", card) == 200  # the requester, on production
    assert await slack.click("U0MALLORY", card) == 200  # not in [people]
    await slack.pump()
    assert slack.ephemeral("U0CAROL") == [
        "carol can't approve deploys to production; approvers: alice, bob, dave."
    ]
    assert "alice asked for this deploy" in slack.ephemeral("U0ALICE")[0]
    assert "not in deploybot's list of people" in slack.ephemeral("U0MALLORY")[0]
    assert {c.args["thread_ts"] for c in slack.fake.called("chat.postEphemeral")} == {ROOT}
    thread = await slack.thread()
    assert thread.status == "awaiting_approval"
    assert [e.type for e in thread.events].count("approval_refused") == 3
    assert calls(slack.base) == []

    assert await slack.click("U0BOB", card) == 200
    await slack.pump()
    assert len(calls(slack.base)) == 1
    after = slack.fake.messages[(CHANNEL, card["ts"])]
    assert "deploybot_approve" not in json.dumps(after)  # the buttons are gone
    assert "approved by bob (09:00 UTC)" in visible(after)
    assert "ok in" in after["text"]
    assert "backend v1.4.2 is live" in after["text"]
    assert (await slack.thread()).status == "done"
    assert len(slack.fake.called("chat.postMessage")) == 1  # everything in one message

    # A click replayed after the decision changes nothing, nor does a new one.
    before = len(slack.fake.calls)
    status, _ = await slack.post.interactive(
        click(
            "deploybot_approve",
            f"{thread.id}:{plan.plan.plan_hash}",
            user="U0BOB",
            channel=CHANNEL,
            message_ts=card["ts"],
            thread_ts=ROOT,
            action_ts=f"1700000500.{slack._ts:06d}",
            trigger_id=f"trigger-{slack._ts}",
        )
    )
    assert status == 200
    await slack.pump()
    assert len(slack.fake.calls) == before
    assert await slack.click("U0BOB", card) == 200
    await slack.pump()
    [late] = slack.ephemeral("U0BOB")  # a click replayed after the decision
    assert late.startswith("Plan #")
    assert late.endswith("was already approved and deployed; nothing was changed.")
    assert len(calls(slack.base)) == 1
    assert slack.fake.messages[(CHANNEL, card["ts"])] == after


async def test_typed_replies_in_the_slack_thread_continue_the_bot_thread(slack: Harness) -> None:
    await slack.say(REQUEST, user="U0CAROL")
    await slack.say("approve", user="U0BOB", kind="message", ts="1700000002.1", thread_ts=ROOT)
    await slack.pump()
    assert len(calls(slack.base)) == 1
    thread = await slack.thread()
    assert [e.actor for e in thread.events if e.type == "user_message"] == [
        "slack:U0CAROL",
        "slack:U0BOB",
    ]
    assert {m.get("thread_ts") for m in slack.fake.messages.values()} == {ROOT}


async def test_a_retried_event_creates_no_second_thread(slack: Harness) -> None:
    body = event(REQUEST, user="U0CAROL", ts=ROOT, event_id="EvSAME", channel=CHANNEL)
    assert (await slack.post.event(body))[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await slack.post.event(body, headers=retry))[0] == 200
    await slack.pump()
    assert await slack.app.context.store.recent_ids(limit=10) == [(await slack.thread()).id]
    assert [e.type for e in (await slack.thread()).events].count("user_message") == 1
    assert len(slack.fake.called("chat.postMessage")) == 1


async def test_a_retry_whose_first_try_was_not_stored_is_processed(
    slack: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = slack.app.context.queue.publish
    failures = [ConnectionError("redis went away")]

    async def flaky(envelope: Any) -> str:
        if failures:
            raise failures.pop()
        return await real(envelope)

    monkeypatch.setattr(slack.app.context.queue, "publish", flaky)
    body = event(REQUEST, user="U0CAROL", ts=ROOT, event_id="EvFLAKY", channel=CHANNEL)
    assert (await slack.post.event(body))[0] == 500  # not stored: Slack must retry
    assert await slack.inbound() == 0
    assert (await slack.post.event(body, headers={"X-Slack-Retry-Num": "1"}))[0] == 200
    await slack.pump()
    assert (await slack.thread()).status == "awaiting_approval"


async def test_bad_signature_or_stale_timestamp_gets_401(slack: Harness) -> None:
    body = event(REQUEST, user="U0CAROL", ts=ROOT, event_id="Ev1", channel=CHANNEL)
    assert (await slack.post.event(body, secret="not-the-secret"))[0] == 401
    stale = int(time.time()) - 6 * 60
    assert (await slack.post.event(body, timestamp=stale))[0] == 401
    assert await slack.inbound() == 0
    assert (await slack.post.event(body))[0] == 200
    assert await slack.inbound() == 1
    challenge = {"type": "url_verification", "challenge": "c-123", "token": "unused"}
    status, said = await slack.post.event(challenge)  # Slack checking the request URL
    assert (status, json.loads(said)) == (200, {"challenge": "c-123"})


async def test_bots_and_stray_messages_are_not_requests(slack: Harness) -> None:
    await slack.say(REQUEST, user="U0CAROL")  # a thread the bot follows
    await slack.pump()
    ignored = [
        {"bot_id": "B0OTHER"},
        {"user": "U0BOT"},  # the bot itself
        {"kind": "message", "subtype": "bot_message", "thread_ts": ROOT, "bot_id": "B0BOT"},
        {"kind": "message", "subtype": "message_changed", "thread_ts": ROOT},
        {"kind": "message"},  # a channel message, not a mention
        {"kind": "message", "thread_ts": "1600000000.000001"},  # a thread the bot does not follow
        {"kind": "message", "thread_ts": ROOT, "text": REQUEST},  # the app_mention twin
    ]
    for n, extra in enumerate(ignored):
        fields = {"user": "U0CAROL", "text": "approve"} | extra
        text = fields.pop("text")
        assert await slack.say(text, ts=f"1700000100.{n:06d}", **fields) == 200
    assert await slack.inbound() == 0
    await slack.pump()
    assert [e.type for e in (await slack.thread()).events].count("user_message") == 1


async def test_slash_command_answers_in_a_thread_of_its_own(slack: Harness) -> None:
    fields = slash_command("backend v1.4.2 to staging", user="U0CAROL", trigger_id="trig-1")
    assert await slack.post.command(fields) == (200, "")
    root = slack.fake.called("chat.postMessage")[0]
    assert root.args["text"] == "<@U0CAROL> asked: deploy backend v1.4.2 to staging"
    assert "thread_ts" not in root.args
    await slack.pump()
    assert len(calls(slack.base)) == 1
    (root_ts,) = [ts for (_c, ts), m in slack.fake.messages.items() if "thread_ts" not in m]
    replies = slack.fake.thread(CHANNEL, root_ts)
    assert replies
    assert "ok in" in replies[-1]["text"]
    assert (await slack.thread(root_ts)).status == "done"

    status, usage = await slack.post.command(slash_command("", user="U0CAROL", trigger_id="t2"))
    assert (status, usage.startswith("Usage: `/deploy")) == (200, True)
    slack.fake.fail("chat.postMessage", error="not_in_channel")
    no_channel = slash_command("backend to staging", user="U0CAROL", trigger_id="t3")
    status, said = await slack.post.command(no_channel)
    assert status == 200
    assert "Invite me to the channel" in said
    assert await slack.inbound() == 0


async def test_reject_with_a_reason_in_a_modal(slack: Harness) -> None:
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    card = slack.card()
    assert await slack.click("U0BOB", card, action="reject") == 200
    (opened,) = slack.fake.called("views.open")
    assert opened.args["trigger_id"] == f"trigger-{slack._ts}"
    meta = opened.args["view"]["private_metadata"]

    empty = reject_submission(user="U0BOB", private_metadata=meta, reason="   ")
    status, body = await slack.post.interactive(empty)
    assert status == 200
    assert json.loads(body)["response_action"] == "errors"
    assert await slack.inbound() == 0

    given = reject_submission(user="U0BOB", private_metadata=meta, reason="not during\nthe freeze")
    assert (await slack.post.interactive(given))[0] == 200
    await slack.pump()
    after = slack.fake.messages[(CHANNEL, card["ts"])]
    assert "deploybot_approve" not in json.dumps(after)
    assert "rejected by bob: not during the freeze" in after["text"]
    assert calls(slack.base) == []
    assert (await slack.thread()).status == "done"


async def test_superseded_and_expired_cards_are_refused_with_the_reason(slack: Harness) -> None:
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    first = slack.card()
    await slack.say(
        "<@U0BOT> deploy backend v1.4.1 to production",
        user="U0CAROL",
        ts="1700000003.000001",
        thread_ts=ROOT,
    )
    await slack.pump()
    second = slack.card()
    assert second["ts"] != first["ts"]
    assert await slack.click("U0BOB", first) == 200
    await slack.pump()
    assert "superseded by" in slack.ephemeral("U0BOB")[-1]

    slack.clock.advance(2 * 3600)  # past the expiry
    assert await slack.click("U0BOB", second) == 200
    await slack.pump()
    assert "expired" in slack.ephemeral("U0BOB")[-1]
    assert calls(slack.base) == []


async def test_malformed_payloads_are_logged_and_the_next_valid_one_works(
    slack: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="deploybot.slack")
    broken = event(REQUEST, user="U0CAROL", ts=ROOT, event_id="EvBROKEN", channel=CHANNEL)
    del broken["event"]["channel"]
    assert (await slack.post.event(broken))[0] == 200
    bad_value = click(
        "deploybot_approve",
        "garbage",
        user="U0BOB",
        channel=CHANNEL,
        message_ts="1.1",
        thread_ts=ROOT,
    )
    assert (await slack.post.interactive(bad_value))[0] == 200
    assert await slack.inbound() == 0
    logged = [r.getMessage() for r in caplog.records]
    assert "slack: ignored a malformed payload: event EvBROKEN: missing event.channel" in logged
    assert any("bad button value 'garbage'" in line for line in logged)

    assert await slack.say(REQUEST, user="U0CAROL") == 200
    await slack.pump()
    assert (await slack.thread()).status == "awaiting_approval"
