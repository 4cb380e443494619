"""``QuickPool`` and its connections on a real Redis: the quick way is taken when nobody waits
and a write cannot wait, and the pool and its connections stay what redis-py's were under a
burst (every command answered, no task starved, nothing leaked), with a connection the
server dropped, a command cancelled mid-way, a write larger than the socket's buffers, and
a Redis that stopped answering (SIGSTOP: the command fails after the socket timeout)."""

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.app.clients import redis_client
from bot.app.settings import Settings
from bot.shell.store.pool import (
    QuickConnection,
    QuickPool,
    QuickSSLConnection,
    QuickUnixConnection,
    quick_pool,
)
from tests.conftest import TEST_REDIS_URL
from tests.harness import RedisServer


@pytest.fixture
def slow_gets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the blocking pool's own ``get_connection`` ran."""
    calls = [0]
    original = BlockingConnectionPool.get_connection

    async def counted(self: BlockingConnectionPool, *args: object, **kwargs: object) -> object:
        calls[0] += 1
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(BlockingConnectionPool, "get_connection", counted)
    return calls


@pytest.fixture
def timed_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many writes waited under the socket timeout (``asyncio.wait_for``: redis-py's own
    way and the quick way's, when the buffer is full; reads use ``asyncio.timeout``)."""
    calls = [0]
    original = asyncio.wait_for

    async def counted(awaitable: Any, *args: Any) -> Any:
        calls[0] += 1
        return await original(awaitable, *args)

    monkeypatch.setattr(asyncio, "wait_for", counted)
    return calls


def client(max_connections: int, *, timeout: float = 5, url: str = TEST_REDIS_URL) -> Redis:
    return Redis(connection_pool=quick_pool(url, max_connections=max_connections, timeout=timeout))


async def test_the_bots_client_is_built_on_the_quick_pool() -> None:
    redis, embedded = redis_client(Settings(redis_url=TEST_REDIS_URL, anthropic_api_key=None))
    try:
        assert not embedded
        assert isinstance(redis.connection_pool, QuickPool)
        assert redis.connection_pool.max_connections == 100
        assert redis.connection_pool.connection_class is QuickConnection
    finally:
        await redis.aclose()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", QuickConnection),
        ("rediss://127.0.0.1:6380/0", QuickSSLConnection),
        ("unix:///run/redis/redis.sock?db=0", QuickUnixConnection),
    ],
)
def test_each_kind_of_url_keeps_its_own_kind_of_connection(url: str, kind: type) -> None:
    pool = quick_pool(url, max_connections=2)
    assert pool.connection_class is kind
    assert issubclass(kind, pool.connection_class.__mro__[2])  # TCP, TLS or Unix, as before


async def test_small_writes_skip_the_write_timeout_and_a_large_one_keeps_it(
    key_prefix: str, timed_writes: list[int]
) -> None:
    redis = client(2)
    key = f"{key_prefix}large"
    try:
        for n in range(30):
            await redis.set(key, n)
        assert timed_writes[0] == 0
        large = os.urandom(32 * 1024 * 1024)  # far over the transport's high-water mark
        await redis.set(key, large)
        assert timed_writes[0] >= 1
        assert await redis.strlen(key) == len(large)
        assert await redis.get(key) == large
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_a_redis_that_stopped_answering_fails_each_command_after_the_timeout(
    tmp_path: Path,
) -> None:
    """SIGSTOP of a Redis of its own: a small write (the quick way) is sent, and its read
    times out; a large write fills the socket and times out writing. Both after the socket
    timeout, as redis-py's own way does; then SIGCONT, and the pool works again."""
    with RedisServer(tmp_path).running() as server:
        url = f"redis://127.0.0.1:{server.port}/0"
        redis = Redis(connection_pool=quick_pool(url, max_connections=4, socket_timeout=0.5))
        try:
            await redis.set("k", b"v")
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                for value in (b"small", os.urandom(64 * 1024 * 1024)):
                    started = time.monotonic()
                    with pytest.raises(RedisTimeoutError):
                        await redis.set("k", value)
                    assert 0.4 < time.monotonic() - started < 5
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            assert await redis.set("k", b"after")
            assert await redis.get("k") == b"after"
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


async def test_a_health_check_that_connects_again_sends_on_the_new_connection(
    key_prefix: str,
) -> None:
    """A due health check whose PING finds the connection dead connects again (redis-py's
    retry); the command then goes out on the new connection, not into the closed one."""
    redis = Redis(connection_pool=quick_pool(TEST_REDIS_URL, max_connections=1, socket_timeout=1))
    key = f"{key_prefix}health"
    try:
        await redis.set(key, b"v")
        pool = redis.connection_pool
        (connection,) = pool._available_connections
        assert isinstance(connection, QuickConnection)
        reconnected = [0]

        async def failed_ping_then_connected_again() -> None:
            if not reconnected[0]:  # once: connecting checks its own commands' health too
                reconnected[0] += 1
                await connection.disconnect()
                await connection.connect()

        connection.check_health = failed_ping_then_connected_again  # type: ignore[method-assign]
        started = time.monotonic()
        assert await redis.get(key) == b"v"
        assert reconnected[0] == 1
        assert time.monotonic() - started < 0.9  # answered, not timed out on the old socket
    finally:
        await redis.delete(key)
        await redis.aclose()
