"""``bot.shell.loop.heartbeat.Heartbeat`` on its own, over an in-process Redis: while a turn
runs it keeps the thread's lease (past its first expiry) and the stream entry's idle time
low; it never takes back a lease another worker holds now; it stops renewing when the turn
ends; a renewal that fails (Redis away) is logged and the beat goes on."""

import asyncio
import logging
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from bot.core.config.config import parse_config
from bot.core.thread.events import UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.shell.loop.heartbeat import Heartbeat
from bot.shell.streams.inbound import Envelope
from bot.shell.world.context import Context, Limits
from tests.context import context_over
from tests.fakes.shell import CONFIG, TickingClock

LEASE_MS = 600  # renewed every 200 ms


@pytest.fixture
async def setup() -> tuple[Context, Any, str]:
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    context = context_over(
        redis,
        "unit",
        parse_config(CONFIG, base_dir=Path("/nowhere")),
        clock=TickingClock().clock(),
        limits=Limits(lease_ttl_ms=LEASE_MS),
    )
    await context.queue.ensure_group()
    clock = TickingClock()
    event = UserMessage(id="m1", at=clock.now(), actor="api:carol", text="status")
    await context.queue.publish(Envelope(thread_id="t1", event=event, origin=ApiOrigin()))
    (delivery,) = await context.queue.read(consumer="w1", count=1, block_ms=None)
    return context, redis, delivery.entry_id


def heartbeat(context: Context, entry_id: str, *, token: str = "w1:a") -> Heartbeat:
    return Heartbeat(context=context, consumer="w1", thread_id="t1", token=token, entry_id=entry_id)


async def lease_holder(context: Context, redis: Any) -> bytes | None:
    value: bytes | None = await redis.get(context.keys.lease("t1"))
    return value


async def entry_idle_ms(context: Context, redis: Any, entry_id: str) -> int:
    (entry,) = await redis.xpending_range(
        context.keys.inbound(), "workers", min=entry_id, max=entry_id, count=1
    )
    return int(entry["time_since_delivered"])


async def test_the_lease_outlives_its_ttl_while_the_turn_runs(
    setup: tuple[Context, Any, str],
) -> None:
    context, redis, entry_id = setup
    got, _ = await context.store.lease_and_load("t1", token="w1:a", ttl_ms=LEASE_MS)
    assert got

    async with heartbeat(context, entry_id):
        await asyncio.sleep(3 * LEASE_MS / 1000)  # three leases: it would have expired
        assert await lease_holder(context, redis) == b"w1:a"
        assert await entry_idle_ms(context, redis, entry_id) < LEASE_MS  # touched too


async def test_without_a_heartbeat_the_lease_runs_out(setup: tuple[Context, Any, str]) -> None:
    context, redis, _ = setup
    await context.store.lease_and_load("t1", token="w1:a", ttl_ms=LEASE_MS)
    await asyncio.sleep(3 * LEASE_MS / 1000)
    assert await lease_holder(context, redis) is None  # the test above is not vacuous


async def test_renewal_stops_when_the_turn_ends(setup: tuple[Context, Any, str]) -> None:
    context, redis, entry_id = setup
    await context.store.lease_and_load("t1", token="w1:a", ttl_ms=LEASE_MS)
    async with heartbeat(context, entry_id):
        await asyncio.sleep(LEASE_MS / 1000)
    await asyncio.sleep(3 * LEASE_MS / 1000)
    assert await lease_holder(context, redis) is None


async def test_a_lease_another_worker_holds_is_never_taken_back(
    setup: tuple[Context, Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    context, redis, entry_id = setup
    got, _ = await context.store.lease_and_load("t1", token="w2:b", ttl_ms=60_000)
    assert got
    with caplog.at_level(logging.WARNING, logger="deploybot.worker"):
        async with heartbeat(context, entry_id, token="w1:a"):
            await asyncio.sleep(2 * LEASE_MS / 1000)
    assert await lease_holder(context, redis) == b"w2:b"
    assert any("another worker holds its lease" in r.getMessage() for r in caplog.records)


async def test_a_failed_renewal_is_logged_and_the_beat_goes_on(
    setup: tuple[Context, Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    context, redis, entry_id = setup
    await context.store.lease_and_load("t1", token="w1:a", ttl_ms=LEASE_MS)
    real_renew = context.store.renew_lease
    failures: list[int] = []

    async def renew_once_failing(thread_id: str, *, token: str, ttl_ms: int) -> bool:
        if not failures:
            failures.append(1)
            raise ConnectionError("Redis away")
        return await real_renew(thread_id, token=token, ttl_ms=ttl_ms)

    context.store.renew_lease = renew_once_failing  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="deploybot.worker"):
        async with heartbeat(context, entry_id):
            await asyncio.sleep(4 * LEASE_MS / 1000)
            assert await lease_holder(context, redis) == b"w1:a"  # renewed after the failure
    assert failures == [1]
    assert any("heartbeat for thread t1 failed" in r.getMessage() for r in caplog.records)


async def test_a_turn_shorter_than_a_third_of_the_lease_starts_no_task(
    setup: tuple[Context, Any, str],
) -> None:
    """The first renewal is a timer, not a task: a short turn (most) makes and cancels none."""
    context, _redis, entry_id = setup
    await context.store.lease_and_load("t1", token="w1:a", ttl_ms=LEASE_MS)
    before = len(asyncio.all_tasks())
    async with heartbeat(context, entry_id):
        await asyncio.sleep(LEASE_MS / 6000)
        assert len(asyncio.all_tasks()) == before
    await asyncio.sleep(LEASE_MS / 1000)  # its timer was cancelled: nothing starts later
    assert len(asyncio.all_tasks()) == before
