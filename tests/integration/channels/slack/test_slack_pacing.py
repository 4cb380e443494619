"""Slack's pace (about one message a second per channel, 429 with Retry-After), measured on
the times the fake Web API received each call; the real slack_sdk client and real Redis."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from channels.slack import ChannelPacer, SlackSender, slack_sender
from tests.fakes.slack_api import FakeSlack
from tests.integration.channels.slack.test_slack import CHANNEL
from tests.integration.channels.slack.test_slack_sender import message
from tests.support import Clock, make_app, write_setup

BURST = 3


@pytest.fixture
async def paced(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> AsyncIterator[tuple[SlackSender, FakeSlack]]:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path), clock=Clock())
    async with FakeSlack() as fake:
        sender = slack_sender(
            bot_token=fake.token,
            api_url=fake.base_url,
            state=app.ports.slack,
            config=app.context.config,
            pacer=ChannelPacer(interval_s=0.5, burst=BURST),  # Slack's 1/s, at twice the speed
        )
        yield sender, fake


def keeps_pace(times_s: list[float], *, interval_s: float, burst: int) -> bool:
    """No window of calls faster than the bucket allows: call i (from 0) comes at least
    (i - burst + 1) intervals after the first."""
    return all(t - times_s[0] >= (i - burst + 1) * interval_s - 0.02 for i, t in enumerate(times_s))


async def test_a_burst_of_messages_to_one_channel_keeps_slacks_pace(
    paced: tuple[SlackSender, FakeSlack],
) -> None:
    sender, fake = paced
    began = time.monotonic()
    for n in range(7):  # seven bot threads reporting to one channel at once
        await sender.send(message(f"m{n}", f"report {n}").model_copy(update={"thread_id": f"s{n}"}))
    posts = [c.at_s for c in fake.called("chat.postMessage")]
    assert len(posts) == 7
    assert keeps_pace(posts, interval_s=0.5, burst=BURST)
    assert posts[-1] - posts[0] >= (7 - BURST) * 0.5 - 0.02
    assert time.monotonic() - began < 4


async def test_progress_edits_of_one_message_coalesce_to_the_newest(
    paced: tuple[SlackSender, FakeSlack],
) -> None:
    sender, fake = paced
    await sender.send(message("start", "Deploying ..."))
    for n in range(1, 21):  # a backlog of progress updates, delivered in one batch
        await sender.send(message(f"p{n}", f"Deploying ... {n} s", purpose="progress",
                                  replaces="start"))  # fmt: skip
    await sender.pacer.drain()
    edits = fake.called("chat.update")
    shown = [int(e.args["text"].split()[-2]) for e in edits]
    # What the burst allowance let through at once, then only the newest: 20 updates, at
    # most BURST edits, in order, ending with the last.
    assert len(edits) <= BURST
    assert shown == sorted(shown)
    assert shown[-1] == 20
    times = [c.at_s for c in fake.calls if c.method in ("chat.postMessage", "chat.update")]
    assert keeps_pace(times, interval_s=0.5, burst=BURST)
    (ts,) = {e.args["ts"] for e in edits}
    assert fake.messages[(CHANNEL, ts)]["text"] == "Deploying ... 20 s"

    # The result replaces the message: a progress edit still waiting is dropped, never sent
    # after it.
    await sender.send(message("p21", "Deploying ... 21 s", purpose="progress", replaces="p20"))
    await sender.send(message("done", "ok in 21 s", purpose="result", replaces="p21"))
    await sender.pacer.drain()
    assert fake.messages[(CHANNEL, ts)]["text"] == "ok in 21 s"
    assert fake.called("chat.update")[-1].args["text"] == "ok in 21 s"


async def test_a_retry_after_a_429_never_comes_before_retry_after(
    paced: tuple[SlackSender, FakeSlack],
) -> None:
    sender, fake = paced
    fake.fail("chat.postMessage", status=429, error="ratelimited", retry_after_s=1, times=2)
    await sender.send(message("m1", "hello"))
    attempts = fake.called("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 429, 200]
    gaps_s = [b.at_s - a.at_s for a, b in itertools.pairwise(attempts)]
    assert all(gap >= 1.0 for gap in gaps_s), gaps_s
    assert len(fake.thread(CHANNEL, "1700000001.000001")) == 1


async def test_channels_are_paced_apart(paced: tuple[SlackSender, FakeSlack]) -> None:
    """One busy channel does not slow another."""
    sender, fake = paced
    for n in range(BURST + 2):
        await sender.send(message(f"a{n}", "busy").model_copy(update={"thread_id": f"a{n}"}))
    began = time.monotonic()
    other = message("b0", "elsewhere").model_copy(
        update={
            "thread_id": "b0",
            "origin": message("x").origin.model_copy(update={"channel": "C0OTHER"}),
        }
    )
    await asyncio.wait_for(sender.send(other), 1)
    assert time.monotonic() - began < 0.3
    assert fake.called("chat.postMessage")[-1].args["channel"] == "C0OTHER"
