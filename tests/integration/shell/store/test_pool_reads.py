"""``QuickSend.read_response``: a reply hiredis already holds (a pipeline's replies after the
first) is taken without a timeout of its own, and everything a reply can be reads exactly
as redis-py reads it: values, an error reply in the middle of a pipeline, a connection
error reply (LOADING) that closes the connection, a RESP3 push message in front of a
reply. Each case runs the bot's client (``quick_pool``) and redis-py's own (its blocking
pool and plain connection) side by side, on the real Redis or on a scripted server that
sends each batch of replies in one packet."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import hiredis
import pytest
import redis.asyncio.connection as redis_connection
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import BusyLoadingError, InvalidResponse

from bot.shell.store.pool import quick_pool
from tests.conftest import TEST_REDIS_URL

Clients = dict[str, Redis]


def clients(url: str, **options: Any) -> Clients:
    return {
        "quick": Redis(connection_pool=quick_pool(url, max_connections=4, **options)),
        "redis-py": Redis(
            connection_pool=BlockingConnectionPool.from_url(url, max_connections=4, **options)
        ),
    }


@pytest.fixture
def timeouts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many reads redis-py put under a timeout (``async_timeout`` in its connection)."""
    calls = [0]
    original = redis_connection.async_timeout

    def counted(delay: float | None) -> Any:
        calls[0] += 1
        return original(delay)

    monkeypatch.setattr(redis_connection, "async_timeout", counted)
    return calls


async def outcome(call: Callable[[], Awaitable[Any]]) -> Any:
    """What a call returned, or the type and text of what it raised; errors inside a
    returned list as type and text too (exceptions do not compare equal)."""
    try:
        result = await call()
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc))
    if isinstance(result, list):
        return [(type(r).__name__, str(r)) if isinstance(r, Exception) else r for r in result]
    return result


async def test_a_pipelines_replies_are_read_as_redis_py_reads_them_with_one_timeout(
    key_prefix: str, timeouts: list[int]
) -> None:
    seen: dict[str, Any] = {}
    counted: dict[str, int] = {}
    for name, redis in clients(TEST_REDIS_URL).items():
        key = f"{key_prefix}:k"  # the same keys, one client after the other

        def pipeline(redis: Redis = redis, key: str = key) -> Any:
            pipe = redis.pipeline(transaction=False)
            for i in range(20):
                pipe.set(f"{key}:{i}", i)
                pipe.incr(f"{key}:{i}")
            pipe.set(f"{key}:text", "not a number")
            pipe.incr(f"{key}:text")  # an error reply, then more replies behind it
            pipe.mget([f"{key}:{i}" for i in range(3)])
            pipe.hgetall(f"{key}:none")
            return pipe

        try:
            await redis.ping()  # connected: its handshake's reads are not counted
            before = timeouts[0]
            seen[name] = await outcome(lambda: pipeline().execute(raise_on_error=False))
            counted[name] = timeouts[0] - before
            seen[name + " raising"] = await outcome(lambda: pipeline().execute())
        finally:
            await redis.delete(*[f"{key}:{i}" for i in range(20)], f"{key}:text")
            await redis.aclose()
    assert seen["quick"] == seen["redis-py"]
    assert seen["quick"][41] == ("ResponseError", "value is not an integer or out of range")
    assert seen["quick"][42] == [b"1", b"2", b"3"]
    assert seen["quick raising"] == seen["redis-py raising"]
    assert seen["quick raising"][0] == "raised"
    assert counted["redis-py"] >= 44  # one per reply at least
    assert counted["quick"] <= 2  # the first reply's wait (and a second packet's, if any)


class ScriptedRedis:
    """A server that answers the handshake like Redis 7 and each ``GET key`` with the raw
    bytes in ``replies`` (push frames in front included); all replies to what arrived in one
    packet go out in one packet, as a busy Redis sends them."""

    def __init__(self, replies: dict[bytes, bytes]) -> None:
        self.replies = replies
        self.connections = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        parser = hiredis.Reader()
        while data := await reader.read(65536):
            parser.feed(data)
            out = b""
            while (command := parser.gets()) is not False:
                out += self.answer([bytes(part) for part in command])
            writer.write(out)
            await writer.drain()
        writer.close()

    def answer(self, command: list[bytes]) -> bytes:
        name = command[0].upper()
        if name == b"HELLO":
            if command[1:2] == [b"3"]:
                return b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n"
            return b"*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:2\r\n"
        if name == b"GET":
            return self.replies[command[1]]
        return b"+OK\r\n"  # CLIENT SETINFO, SELECT, ...


@asynccontextmanager
async def scripted(replies: dict[bytes, bytes]) -> AsyncIterator[tuple[ScriptedRedis, str]]:
    server = ScriptedRedis(replies)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield server, f"redis://127.0.0.1:{port}/0"
    finally:
        listening.close()


PUSH = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ({b"a": b"$1\r\n1\r\n", b"b": PUSH + b"$1\r\n2\r\n"}, [b"1", b"2"]),
        ({b"a": b"$1\r\n1\r\n", b"b": b"-ERR no\r\n"}, [b"1", ("ResponseError", "no")]),
        (
            {b"a": b"$1\r\n1\r\n", b"b": LOADING},
            ("raised", BusyLoadingError.__name__, "Redis is loading the dataset in memory"),
        ),
        (
            {b"a": b"$1\r\n1\r\n", b"b": b"?not a reply\r\n"},
            ("raised", "InvalidResponse", 'Protocol error, got "?" as reply type byte'),
        ),
    ],
    ids=[
        "a-push-message-in-front-of-a-reply",
        "an-error-reply",
        "a-connection-error-reply",
        "bytes-that-are-no-reply",
    ],
)
async def test_every_kind_of_reply_held_in_the_buffer_reads_as_redis_py_reads_it(
    replies: dict[bytes, bytes], expected: Any
) -> None:
    seen: dict[str, Any] = {}
    connections: dict[str, int] = {}
    for name in ("quick", "redis-py"):
        async with scripted(replies) as (server, url):
            redis = clients(url)[name]
            try:
                pipe = redis.pipeline(transaction=False).get("a").get("b")
                seen[name] = await outcome(lambda pipe=pipe: pipe.execute(raise_on_error=False))
                assert await redis.get("a") == b"1"  # the pool still answers
            finally:
                await redis.aclose()
            connections[name] = server.connections
    assert seen["quick"] == seen["redis-py"] == expected
    assert connections["quick"] == connections["redis-py"]  # closed (and made again) alike


async def test_a_single_reply_still_waits_under_the_socket_timeout(timeouts: list[int]) -> None:
    redis = clients(TEST_REDIS_URL)["quick"]
    try:
        assert await redis.ping()  # connected
        before = timeouts[0]
        assert await redis.ping()
        assert timeouts[0] - before == 1
    finally:
        await redis.aclose()


async def test_a_reply_cut_short_waits_for_the_rest_under_the_socket_timeout() -> None:
    """The first reply comes, the second only in part, and no more: the rest is waited for
    under the socket timeout, as redis-py waits, and the connection is dropped."""
    replies = {b"a": b"$1\r\n1\r\n", b"b": b"$10\r\n12345"}  # 5 of 10 bytes, then silence
    seen: dict[str, Any] = {}
    took: dict[str, float] = {}
    for name in ("quick", "redis-py"):
        async with scripted(replies) as (server, url):
            redis = clients(url, socket_timeout=0.5)[name]
            try:
                pipe = redis.pipeline(transaction=False).get("a").get("b")
                began = asyncio.get_running_loop().time()
                seen[name] = await outcome(lambda pipe=pipe: pipe.execute())
                took[name] = asyncio.get_running_loop().time() - began
                assert await redis.get("a") == b"1"  # a new connection answers
            finally:
                await redis.aclose()
            assert server.connections >= 2
    assert seen["quick"][:2] == seen["redis-py"][:2] == ("raised", "TimeoutError")
    assert 0.4 < took["quick"] < 5


async def test_bytes_that_are_no_reply_drop_the_connection_they_came_on() -> None:
    """Read on the connection itself, below the pipeline (which drops a connection on any
    error of its own): the first reply waits for the socket, the second is already held and
    is no reply, so nothing after it on that connection can be read: it is closed, as
    redis-py's own connection closes it."""
    replies = {b"a": b"$1\r\n1\r\n", b"b": b"?not a reply\r\n"}
    for name in ("quick", "redis-py"):
        async with scripted(replies) as (_, url):
            redis = clients(url)[name]
            pool = redis.connection_pool
            connection = await pool.get_connection()
            try:
                await connection.send_packed_command(
                    connection.pack_commands([("GET", "a"), ("GET", "b")])
                )
                assert await connection.read_response() == b"1"
                with pytest.raises(InvalidResponse):
                    await connection.read_response()
                assert not connection.is_connected, name
            finally:
                await pool.release(connection)
                await redis.aclose()
