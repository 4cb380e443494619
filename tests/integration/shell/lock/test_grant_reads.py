"""``EnvLock.grant``: reads queued behind the grant script, in its round trip, on a real Redis.

On a grant the reads see the state under the lock (a write made before the try is seen);
a try that is not granted still answers them; a grant made while the intact mark changed
(the data lost meanwhile) is given back at once, whatever the reads said; the quiet period
after a loss sends nothing (no replies); ``grant_within`` stops waiting on a held lock when
``stop`` says so of a try's replies, and counts its tries.
"""

import asyncio
import time
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.shell.lock.dataloss import DataLossGuard
from bot.shell.lock.holder import LockHolder
from bot.shell.lock.lease import EnvLock
from bot.shell.store.keys import Keys

PAIR = {"service": "backend", "environment": "production"}
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def holder(thread_id: str) -> LockHolder:
    return LockHolder(thread_id=thread_id, who="carol", why="deploy backend v1.4.2", since=AT)


def lock_over(redis: Redis, prefix: str) -> tuple[EnvLock, DataLossGuard, Keys]:
    keys = Keys(prefix)
    guard = DataLossGuard(
        redis=redis, keys=keys, lock_ttl_ms=30_000, new_id=lambda: f"m{time.time_ns()}"
    )
    return EnvLock(redis=redis, keys=keys, guard=guard), guard, keys


async def test_the_reads_come_back_with_the_grant_and_see_the_state_under_it(
    redis: Redis, key_prefix: str
) -> None:
    lock, _, keys = lock_over(redis, key_prefix)
    await redis.set(f"{key_prefix}:probe", "before the try")

    def reads(pipe: Pipeline) -> None:
        pipe.get(f"{key_prefix}:probe")
        pipe.get(keys.env_lock(**PAIR))  # the lock itself: already taken when read

    got = await lock.grant(**PAIR, holder=holder("t1"), ttl_ms=30_000, reads=reads)
    assert got.ok
    assert got.holder.fencing_token > 0
    assert got.replies is not None
    probe, held = got.replies
    assert probe == b"before the try"
    assert held is not None
    assert LockHolder.model_validate_json(held).fencing_token == got.holder.fencing_token


async def test_a_try_that_is_not_granted_still_answers_the_reads(
    redis: Redis, key_prefix: str
) -> None:
    lock, _, _ = lock_over(redis, key_prefix)
    ok, first = await lock.acquire(**PAIR, holder=holder("t1"), ttl_ms=30_000)
    assert ok
    got = await lock.grant(
        **PAIR,
        holder=holder("t2"),
        ttl_ms=30_000,
        reads=lambda pipe: pipe.get(f"{key_prefix}:nothing"),
    )
    assert not got.ok
    assert got.holder.thread_id == "t1"
    assert got.replies == [None]
    assert await lock.holder(**PAIR) == first


async def test_a_grant_made_as_the_data_was_lost_is_given_back(
    redis: Redis, key_prefix: str
) -> None:
    lock, guard, keys = lock_over(redis, key_prefix)
    known = await guard.look()
    # Another mark appears (the data was lost and a new one made) after this process read it.
    await redis.set(keys.intact(), f"other:{known.made_ms}:{known.run_id}")
    got = await lock.grant(
        **PAIR, holder=holder("t1"), ttl_ms=30_000, reads=lambda pipe: pipe.get(keys.intact())
    )
    assert not got.ok
    assert got.holder.quiet_until is not None
    assert got.replies is not None  # the reads were answered, and count for nothing
    assert await lock.holder(**PAIR) is None  # given back before anything could run


async def test_the_quiet_period_sends_no_reads(redis: Redis, key_prefix: str) -> None:
    lock, guard, _ = lock_over(redis, key_prefix)
    await guard.look()
    guard.forget("a test says so")  # quiet for a lease from now, on this process's clock
    got = await lock.grant(
        **PAIR, holder=holder("t1"), ttl_ms=30_000, reads=lambda pipe: pipe.get("x")
    )
    assert not got.ok
    assert got.holder.quiet_until is not None
    assert got.replies is None


async def test_grant_within_stops_waiting_when_the_reads_say_so(
    redis: Redis, key_prefix: str
) -> None:
    lock, _, _ = lock_over(redis, key_prefix)
    ok, _ = await lock.acquire(**PAIR, holder=holder("t1"), ttl_ms=30_000)
    assert ok
    await redis.set(f"{key_prefix}:stop", "1")
    seen: list[list[object]] = []

    def stop(replies: list[object]) -> bool:
        seen.append(replies)
        return replies == [b"1"]

    got = await lock.grant_within(
        **PAIR,
        holder=holder("t2"),
        ttl_ms=30_000,
        wait_s=600,  # would wait ten minutes for t1's lock without ``stop``
        reads=lambda pipe: pipe.get(f"{key_prefix}:stop"),
        stop=stop,
    )
    assert not got.ok
    assert got.holder.thread_id == "t1"
    assert (got.tries, seen) == (1, [[b"1"]])


async def test_grant_within_counts_the_tries_until_the_grant(redis: Redis, key_prefix: str) -> None:
    lock, _, _ = lock_over(redis, key_prefix)
    ok, first = await lock.acquire(**PAIR, holder=holder("t1"), ttl_ms=30_000)
    assert ok
    released: list[asyncio.Task[bool]] = []

    def stop(replies: list[object]) -> bool:
        if not released:  # t1 finishes while t2 waits after its first try
            released.append(asyncio.create_task(lock.release(**PAIR, token=first.fencing_token)))
        return False

    got = await lock.grant_within(
        **PAIR,
        holder=holder("t2"),
        ttl_ms=30_000,
        wait_s=600,
        reads=lambda pipe: pipe.get(f"{key_prefix}:nothing"),
        stop=stop,
    )
    assert got.ok
    assert got.holder.thread_id == "t2"
    assert got.tries >= 2
    assert got.replies == [None]
    assert await released[0]
