"""``QuickPool`` on a real Redis: the quick way is taken when nobody waits, and the pool stays
the blocking pool it was under a burst (every command answered, no task starved, nothing
leaked), with a connection the server dropped, and with a command cancelled mid-way."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from bot.app.clients import redis_client
from bot.app.settings import Settings
from bot.shell.store.pool import QuickPool
from tests.conftest import TEST_REDIS_URL


@pytest.fixture
async def slow_gets(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[int]]:
    """How many times the blocking pool's own ``get_connection`` ran."""
    calls = [0]
    original = BlockingConnectionPool.get_connection

    async def counted(self: BlockingConnectionPool, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BlockingConnectionPool, "get_connection", counted)
    yield calls


def client(max_connections: int, *, timeout: float = 5) -> Redis:
    pool = QuickPool.from_url(TEST_REDIS_URL, max_connections=max_connections, timeout=timeout)
    return Redis(connection_pool=pool)


async def test_the_bots_client_is_built_on_the_quick_pool() -> None:
    redis, embedded = redis_client(
        Settings(redis_url=TEST_REDIS_URL, anthropic_api_key=None)
    )
    try:
        assert not embedded
        assert isinstance(redis.connection_pool, QuickPool)
        assert redis.connection_pool.max_connections == 100
    finally:
        await redis.aclose()


async def test_one_command_after_another_takes_the_quick_way(
    key_prefix: str, slow_gets: list[int]
) -> None:
    redis = client(10)
    try:
        for n in range(50):
            await redis.set(f"{key_prefix}k", n)
            pipe = redis.pipeline(transaction=False)
            pipe.get(f"{key_prefix}k")
            pipe.incr(f"{key_prefix}n")
            assert await pipe.execute() == [str(n).encode(), n + 1]
        assert slow_gets[0] == 1  # the first connection only: it had to be made
        pool = redis.connection_pool
        assert len(pool._in_use_connections) == 0
        assert len(pool._available_connections) == 1
    finally:
        await redis.delete(f"{key_prefix}k", f"{key_prefix}n")
        await redis.aclose()


async def test_a_burst_over_the_pool_size_is_answered_in_full_and_leaks_nothing(
    key_prefix: str,
) -> None:
    """600 commands at once on 4 connections, three rounds: waiters are woken by a release
    (the quick way never gives a connection back while someone waits), so none times out."""
    redis = client(4, timeout=10)
    key = f"{key_prefix}burst"
    try:
        for round_ in range(3):
            replies = await asyncio.gather(*(redis.incr(key) for _ in range(600)))
            assert sorted(replies) == list(range(600 * round_ + 1, 600 * (round_ + 1) + 1))
        assert int(await redis.get(key) or 0) == 1800
        pool = redis.connection_pool
        assert len(pool._in_use_connections) == 0
        assert len(pool._available_connections) <= 4
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_a_connection_the_server_dropped_is_made_again(key_prefix: str) -> None:
    redis = client(2)
    admin = Redis.from_url(TEST_REDIS_URL)
    key = f"{key_prefix}dropped"
    try:
        await redis.client_setname("quickpool-test")
        await redis.set(key, b"before")
        clients = await admin.client_list()
        ids = [c["id"] for c in clients if c.get("name") == "quickpool-test"]
        assert ids
        for client_id in ids:
            await admin.client_kill_filter(_id=client_id)
        await asyncio.sleep(0.05)
        assert await redis.get(key) == b"before"  # the idle connection was found closed
    finally:
        await admin.delete(key)
        await admin.aclose()
        await redis.aclose()


async def test_a_command_cancelled_mid_way_leaves_the_pool_usable(key_prefix: str) -> None:
    redis = client(2)
    key = f"{key_prefix}cancelled"
    try:
        waiting = asyncio.ensure_future(redis.blpop([key], timeout=5))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        for n in range(20):  # the cancelled connection was dropped, not handed out half-read
            assert await redis.rpush(key, n) == 1
            assert await redis.lpop(key) == str(n).encode()
        pool = redis.connection_pool
        assert len(pool._in_use_connections) == 0
    finally:
        await redis.delete(key)
        await redis.aclose()
