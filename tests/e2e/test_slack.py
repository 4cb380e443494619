"""End to end: ``deploybot web`` and ``deploybot worker`` as processes on real Redis, Slack
played by a local fake Web API and by signed HTTP posts to ``/slack/events``."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.shell.store.keys import Keys
from tests.conftest import TEST_REDIS_URL
from tests.fakes.slack_api import FakeSlack, SlackPoster, click, event
from tests.harness import (
    Processes,
    bot_env,
    clock_ran_before,
    healthy,
    once_at,
    schedule_toml,
    until,
)
from tests.support import calls, free_port, write_setup

pytestmark = pytest.mark.e2e

SECRET = "e2e-signing-secret"
CHANNEL = "C0DEPLOYS"
ROOT = "1700000001.000001"


def environment(fake: FakeSlack, config: Path, key_prefix: str, port: int) -> dict[str, str]:
    return bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
            "SLACK_BOT_TOKEN": fake.token,
            "SLACK_API_URL": fake.base_url,
            "PORT": str(port),
        }
    )


async def test_mention_click_deploy_through_web_and_worker_processes(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    config = write_setup(tmp_path)
    port = free_port()
    async with FakeSlack() as fake:
        env = environment(fake, config, key_prefix, port) | {"SLACK_SIGNING_SECRET": SECRET}
        with Processes(env, tmp_path, logs=False) as procs:
            web = procs.start("web")
            procs.start("worker")
            await healthy(port, alive=[web])
            async with SlackPoster(f"http://127.0.0.1:{port}/slack/events", SECRET) as post:
                await drive(post, fake, redis, key_prefix, tmp_path)


async def test_socket_mode_in_deploybot_run(tmp_path: Path, key_prefix: str, redis: Redis) -> None:
    """``deploybot run`` with SLACK_APP_TOKEN (and no signing secret): no public URL."""
    config = write_setup(tmp_path)
    port = free_port()
    async with FakeSlack() as fake:
        env = environment(fake, config, key_prefix, port) | {"SLACK_APP_TOKEN": fake.app_token}
        with Processes(env, tmp_path, logs=False) as procs:
            await healthy(port, alive=[procs.start("run")])
            mention = event(
                "<@U0BOT> deploy backend v1.4.2 to production",
                user="U0CAROL",
                ts=ROOT,
                event_id="EvSOCKET",
                channel=CHANNEL,
            )
            await fake.socket_send(envelope("env-1", "events_api", mention))
            await until(lambda: bool(fake.called("chat.postMessage")), "the approval card")
            card = fake.called("chat.postMessage")[0]
            approve = click(
                "deploybot_approve",
                card.args["blocks"][-1]["elements"][0]["value"],
                user="U0BOB",
                channel=CHANNEL,
                message_ts=card.result["ts"],
                thread_ts=ROOT,
            )
            await fake.socket_send(envelope("env-2", "interactive", approve))
            await until(lambda: len(calls(tmp_path)) == 1, "the deploy")
            shown = lambda: fake.messages[(CHANNEL, card.result["ts"])]["text"]  # noqa: E731
            await until(lambda: "ok in" in shown(), "the result")
        assert {a["envelope_id"] for a in fake.socket_acks} == {"env-1", "env-2"}
        assert not any(c.method == "chat.postMessage" and c.status != 200 for c in fake.calls)


def envelope(envelope_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": 0,
        "retry_reason": "",
    }


async def drive(
    post: SlackPoster, fake: FakeSlack, redis: Redis, key_prefix: str, base: Path
) -> None:
    mention = event(
        "<@U0BOT> deploy backend v1.4.2 to production",
        user="U0ALICE",
        ts=ROOT,
        event_id="EvE2E",
        channel=CHANNEL,
    )
    assert (await post.event(mention))[0] == 200
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await post.event(mention, headers=retry))[0] == 200  # the same event, again
    assert (await post.event(mention, secret="wrong"))[0] == 401

    await until(lambda: bool(fake.called("chat.postMessage")), "the approval card")
    card = fake.called("chat.postMessage")[0]
    assert card.args["thread_ts"] == ROOT
    value = card.args["blocks"][-1]["elements"][0]["value"]

    def tap(user: str, n: int) -> dict[str, Any]:
        return click(
            "deploybot_approve",
            value,
            user=user,
            channel=CHANNEL,
            message_ts=card.result["ts"],
            thread_ts=ROOT,
            action_ts=f"1700000500.{n:06d}",
            trigger_id=f"trigger-{n}",
        )

    def ephemeral(user: str) -> list[str]:
        return [c.args["text"] for c in fake.called("chat.postEphemeral") if c.args["user"] == user]

    assert (await post.interactive(tap("U0CAROL", 1)))[0] == 200  # not an approver
    await until(lambda: bool(ephemeral("U0CAROL")), "carol's refusal")
    assert "can't approve" in ephemeral("U0CAROL")[0]
    assert (await post.interactive(tap("U0ALICE", 2)))[0] == 200  # the requester
    await until(lambda: bool(ephemeral("U0ALICE")), "alice's refusal")
    assert "asked for this deploy" in ephemeral("U0ALICE")[0]
    assert calls(base) == []

    assert (await post.interactive(tap("U0BOB", 3)))[0] == 200
    await until(lambda: len(calls(base)) == 1, "the deploy")
    shown = lambda: fake.messages[(CHANNEL, card.result["ts"])]  # noqa: E731
    await until(lambda: "ok in" in shown()["text"], "the result in the card's place")
    assert "deploybot_approve" not in json.dumps(shown()["blocks"])
    assert "approved by bob" in json.dumps(shown()["blocks"])

    assert (await post.interactive(tap("U0BOB", 3)))[0] == 200  # replayed after the decision
    await asyncio.sleep(1)
    assert len(calls(base)) == 1
    assert len(fake.called("chat.postMessage")) == 1
    threads = await redis.zcard(Keys(key_prefix).thread_index())
    assert threads == 1  # the retried event made no second thread


async def test_a_scheduled_run_asks_in_slack_and_is_approved_there(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    """``web``, ``worker`` and ``clock`` processes; the schedule reports to a Slack channel."""
    due = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    schedule = schedule_toml(
        "promote",
        once_at(due),
        "deploy backend v1.4.2 to production",
        report_to=f"slack:{CHANNEL}",
        missed="run_once",
    )
    config = write_setup(tmp_path, tail=schedule)
    # The clock may start after ``due`` on a busy machine: it must still find the time due.
    await clock_ran_before(redis, prefix=key_prefix, schedule="promote", at=datetime.now(UTC))
    port = free_port()
    async with FakeSlack() as fake:
        env = environment(fake, config, key_prefix, port) | {"SLACK_SIGNING_SECRET": SECRET}
        with Processes(env, tmp_path, logs=False) as procs:
            web = procs.start("web")
            procs.start("worker")
            procs.start("clock")
            await healthy(port, alive=[web])
            await until(
                lambda: bool(fake.called("chat.postMessage")), "the approval card", timeout_s=30
            )
            card = fake.called("chat.postMessage")[0]
            assert card.args["channel"] == CHANNEL
            assert not card.args.get("thread_ts")  # the run opens its own Slack thread
            assert "deploybot_approve" in json.dumps(card.args["blocks"])
            root = card.result["ts"]
            value = card.args["blocks"][-1]["elements"][0]["value"]
            approve = click(
                "deploybot_approve",
                value,
                user="U0BOB",
                channel=CHANNEL,
                message_ts=root,
                thread_ts=root,
            )
            async with SlackPoster(f"http://127.0.0.1:{port}/slack/events", SECRET) as post:
                assert (await post.interactive(approve))[0] == 200
                await until(lambda: len(calls(tmp_path)) == 1, "the deploy", timeout_s=30)
                shown = lambda: fake.messages[(CHANNEL, root)]  # noqa: E731
                await until(lambda: "is live" in shown()["text"], "the result in the card")
                assert "approved by bob" in json.dumps(shown()["blocks"])
                # A reply typed in the run's Slack thread reaches the same bot thread.
                status = event(
                    "<@U0BOT> status",
                    user="U0CAROL",
                    ts="1700009999.000001",
                    thread_ts=root,
                    event_id="EvSTATUS",
                    channel=CHANNEL,
                )
                assert (await post.event(status))[0] == 200
                await until(lambda: bool(fake.thread(CHANNEL, root)), "the status answer")
                [answer] = fake.thread(CHANNEL, root)  # a reply in the run's Slack thread
                assert "production" in answer["text"]
    assert len(calls(tmp_path)) == 1
    assert await redis.zcard(Keys(key_prefix).thread_index()) == 1  # the reply joined the run
