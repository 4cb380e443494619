"""No stored event stops the worker: real Redis, the real worker loop, real deploy scripts.

An inbound entry that cannot be decoded is set aside at once; one whose handling raises
every time is retried until ``max_deliveries`` and then set aside; both are moved to the
dead-letter stream with the reason, counted, kept for the audit, and the people in the
thread are told. Meanwhile, and after, the worker handles the next entries: their deploys
are counted in the deploy script's call log.
"""

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.core.ports.agent import AgentFailure
from bot.core.thread.intents import Intent
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.set_aside import SetAside
from bot.shell.streams.set_aside import SetAsideInputs
from tests.poison import hostile_json
from tests.support import ScriptedAgent, calls, make_app, say, texts, thread_of, write_setup


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    return write_setup(tmp_path)


async def set_aside(app: Any) -> list[SetAside]:
    return await SetAsideInputs(redis=app.redis, keys=app.context.keys).since(
        datetime.min.replace(tzinfo=UTC)
    )


async def dead(app: Any) -> list[dict[bytes, bytes]]:
    entries: Any = await app.redis.xrange(app.context.keys.dead_letter())
    return [fields for _id, fields in entries]


async def test_an_undecodable_entry_is_set_aside_and_its_thread_told(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=setup)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to staging", new=True)
    await app.worker.run_until_idle()
    # Written by an older or newer bot, or by hand: it names its thread but is no event.
    await redis.xadd(
        app.context.keys.inbound(), {"e": b'{"thread_id": "t1", "event": {"type": "?"}}'}
    )
    await say(app, "t1", "slack:U0CAROL", "deploy frontend to staging")
    await app.worker.run_until_idle()
    [entry] = await dead(app)
    assert (entry[b"reason"], entry[b"kind"]) == (b"not a valid inbound envelope", b"undecodable")
    [item] = await set_aside(app)
    assert (item.channel, item.reason, item.thread_id) == ("worker", "undecodable", "t1")
    thread = await thread_of(app, "t1")
    assert any("it was set aside for an operator" in t for t in texts(thread))
    assert len(calls(tmp_path)) == 2  # the request after it ran
    counters = await app.context.metrics.counters()
    assert counters["inputs_set_aside_total|channel=worker,reason=undecodable"] == 1
    assert await app.context.queue.lag() == 0


async def test_an_entry_that_fails_every_time_is_set_aside_while_others_go_on(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    script: list[Intent | AgentFailure | Exception] = [RuntimeError("a bug")] * 10
    app = make_app(
        redis, prefix=key_prefix, config_file=setup, agent=ScriptedAgent(script), lease_ttl_ms=300
    )
    await say(app, "bad", "slack:U0CAROL", "help", new=True)  # the grammar answers
    await app.worker.run_until_idle()
    await say(app, "bad", "slack:U0CAROL", "hmm, what should we ship?")  # the model: raises
    await say(app, "good", "slack:U0CAROL", "deploy backend to staging", new=True)
    stop = asyncio.Event()
    running = asyncio.create_task(app.worker.run(stop=stop))
    try:
        deadline = time.monotonic() + 30
        while not await dead(app):
            assert time.monotonic() < deadline, "never set aside"
            assert not running.done(), running
            await asyncio.sleep(0.05)
        assert len(calls(tmp_path)) == 1  # the good thread was not held up by the bad one
        [entry] = await dead(app)
        assert entry[b"kind"] == b"keeps_failing"
        assert entry[b"reason"] == b"failed 5 times"
        await say(app, "good", "slack:U0CAROL", "deploy frontend to staging")
        while len(calls(tmp_path)) < 2:  # and the worker goes on after it
            assert time.monotonic() < deadline, "the next request was never handled"
            await asyncio.sleep(0.05)
        assert not running.done()
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
    bad = await thread_of(app, "bad")
    assert "failed 5 times" in texts(bad)[-1]
    assert (await set_aside(app))[0].reason == "keeps_failing"


async def test_a_thread_that_cannot_be_loaded_is_told_where_it_came_from(
    redis: Redis, key_prefix: str, setup: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=setup, lease_ttl_ms=200)
    await redis.set(app.context.keys.thread("broken"), b"\x00 not a thread")  # a damaged record
    origin = SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000000.000100")
    await say(app, "broken", "slack:U0CAROL", "deploy backend to staging", new=True, origin=origin)
    for _ in range(100):
        await app.worker.run_until_idle()
        if await dead(app):
            break
        await asyncio.sleep(0.05)
    [entry] = await dead(app)
    assert entry[b"kind"] == b"keeps_failing"
    notes: Any = await redis.xrange(app.context.keys.outbox("slack"))
    assert len(notes) == 1
    assert b"it was set aside for an operator" in notes[0][1][b"m"]
    assert b"C0DEPLOYS" in notes[0][1][b"m"]


_entry_fields = st.one_of(
    hostile_json.map(lambda raw: {b"e": raw}),
    st.dictionaries(st.binary(min_size=1, max_size=8), st.binary(max_size=200), max_size=3),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=_entry_fields)
async def test_after_any_stored_entry_the_worker_handles_the_next(
    fields: dict[bytes, bytes], redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=setup)
    await app.context.queue.ensure_group()
    before = len(calls(tmp_path))
    if fields:
        await redis.xadd(app.context.keys.inbound(), fields)  # type: ignore[arg-type]
    thread_id = f"t{time.monotonic_ns()}"
    await say(app, thread_id, "slack:U0CAROL", "deploy backend to staging", new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, thread_id)).status == "done"
    assert len(calls(tmp_path)) == before + 1
    assert await app.context.queue.lag() == 0  # the hostile entry was set aside, not left behind
