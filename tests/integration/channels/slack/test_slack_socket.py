"""Socket Mode: the real Bolt app and slack_sdk's Socket Mode client against a local fake of
Slack's WebSocket; each envelope is acknowledged only after its event is in the stream."""

import asyncio
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from channels.slack import SocketMode, slack_listeners, slack_sender
from tests.fakes.slack_api import FakeSlack, click, event, slash
from tests.support import Clock, calls, make_app, write_setup

CHANNEL = "C0DEPLOYS"
ROOT = "1700000001.000001"


def envelope(envelope_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": 0,
        "retry_reason": "",
    }


async def test_socket_mode_mention_click_and_command(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path), clock=clock)
    stored_at_ack: dict[str, int] = {}
    async with FakeSlack() as fake:

        async def on_ack(ack: dict[str, Any]) -> None:
            stored_at_ack[ack["envelope_id"]] = await redis.xlen(app.context.keys.inbound())

        fake.on_socket_ack = on_ack
        listeners = slack_listeners(
            bot_token=fake.token,
            signing_secret=None,  # Socket Mode needs no signing secret
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
        await app.context.outbox.ensure_group("slack")

        async def pump() -> None:
            for _ in range(10):
                handled = await app.worker.run_until_idle()
                sent = await app.context.outbox.deliver_some(
                    channel="slack", sender=sender, consumer="t", block_ms=None
                )
                if not handled and not sent:
                    return

        async def acked(envelope_id: str) -> dict[str, Any]:
            for _ in range(500):
                for ack in fake.socket_acks:
                    if ack["envelope_id"] == envelope_id:
                        return ack
                await asyncio.sleep(0.01)
            raise AssertionError(f"no ack for {envelope_id}")

        socket = SocketMode(listeners, app_token=fake.app_token)
        try:
            await socket.connect()
            mention = event(
                "<@U0BOT> deploy backend v1.4.2 to production",
                user="U0CAROL",
                ts=ROOT,
                event_id="Ev1",
                channel=CHANNEL,
            )
            await fake.socket_send(envelope("env-1", "events_api", mention))
            await acked("env-1")
            assert stored_at_ack["env-1"] == 1  # in the stream before the ack
            await pump()
            (card,) = fake.called("chat.postMessage")
            assert card.args["thread_ts"] == ROOT
            value = card.args["blocks"][-1]["elements"][0]["value"]

            approve = click(
                "deploybot_approve",
                value,
                user="U0BOB",
                channel=CHANNEL,
                message_ts=card.result["ts"],
                thread_ts=ROOT,
            )
            await fake.socket_send(envelope("env-2", "interactive", approve))
            await acked("env-2")
            await pump()
            assert len(calls(tmp_path)) == 1
            assert "ok in" in fake.messages[(CHANNEL, card.result["ts"])]["text"]

            await fake.socket_send(
                envelope("env-3", "slash_commands", slash("", user="U0CAROL", trigger_id="t1"))
            )
            usage = await acked("env-3")
            assert usage["payload"]["text"].startswith("Usage: `/deploy")
        finally:
            await socket.close()
    assert [c.method for c in fake.calls][:1] == ["apps.connections.open"]
