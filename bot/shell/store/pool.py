"""The worker's Redis connection pool and its connections: redis-py's, each with a quick way
through when nothing can wait.

Every command and every pipeline takes a connection from the pool and gives it back. In
redis-py's ``BlockingConnectionPool`` each of the two takes a condition, a lock and a timeout,
and reports to its observability hooks: about 30 us of a worker's CPU per round trip
(measured: a GET 103-122 -> 74-89 us, a pipeline of three 152-194 -> 150-157 us), and a turn
of an approved deploy makes eight or nine. ``QuickPool`` takes and gives back a connection
without any of that when it cannot matter, and asks the blocking pool otherwise:

- taking: an idle connection is there, and neither the pool's lock (held while redis-py
  reauthenticates or handles maintenance) nor its condition is held. Nothing is awaited
  between the check and the take, so no other task sees the pool in between (one event loop,
  one thread). The connection is checked as the blocking pool checks it
  (``ensure_connection``: connected, nothing left unread) before it is used;
- giving back: nobody waits for a connection (``Condition._waiters`` empty: a waiter must be
  woken, which only the blocking pool's way does), neither lock is held, and the connection
  does not ask to reconnect (a redis-py without ``should_reconnect``: always the blocking
  pool's way).

What is given up on the quick way: redis-py's pool metrics (connection counts and wait times
for OpenTelemetry), which this bot does not export. Where the condition does not show its
waiters (another implementation), every call goes the blocking pool's way.

Sending (``QuickSend``, mixed into redis-py's TCP, TLS and Unix socket connections,
``quick_pool``): redis-py puts every write under the socket timeout with ``asyncio.wait_for``,
which on Python 3.11 wraps the write in a task of its own: a GET 56-69 -> 44-45 us of CPU
without it. A write only waits when the transport's buffer is over its high-water mark (the
server does not read); below the low-water mark it cannot wait, so it is sent and drained
without the timeout (a health check that is due is made first, as redis-py makes it).
Anything else (a fuller buffer, a transport that does not tell its buffer, a connection not
yet made or closing, a command given as text) goes redis-py's way, timeout and all.
Errors read as redis-py's own: a timeout is ``TimeoutError``, an ``OSError`` is
``ConnectionError``, and the connection is closed.

Reading (``QuickSend.read_response``): redis-py reads every reply under the socket timeout,
one ``asyncio.timeout`` each, also the replies of a pipeline that came in one packet with
the first: a launch reads 37 replies in 4 round trips, and the timeouts were 7% of its CPU
(py-spy, bench/threads.py). A reply hiredis already holds is taken as it is, and handled as
redis-py handles it (an error reply raised, a connection error raised and the connection
closed, the health check put off); a read that must wait for the socket goes redis-py's
way, so a Redis that stopped answering still fails the command after the socket timeout
(5 s), as before. Only through hiredis, and without a timeout of the caller's own; a
RESP3 push message taken this way is handed to redis-py's parser, then the reply is read.
"""

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from redis.asyncio import BlockingConnectionPool
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

try:  # redis-py's own, private: without them every read and write goes redis-py's way
    from hiredis import pack_command as _pack
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _AsyncHiredisParser as _HiredisParser
    from redis.connection import HiredisRespSerializer as _HiredisSerializer
except ImportError:  # pragma: no cover (another redis-py, or no hiredis)
    _HiredisParser = None  # type: ignore[assignment,misc]
    _HiredisSerializer = None  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = object()

__all__ = ["QuickPool", "QuickSend", "quick_pool"]


class QuickSend(AbstractConnection):
    """A connection whose writes skip the socket timeout when they cannot wait."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        writer = self._writer
        if (
            not self.socket_timeout
            or writer is None
            or not self.is_connected
            or writer.transport.is_closing()
            or isinstance(command, str)
            or not _cannot_wait(writer.transport)
        ):
            await super().send_packed_command(command, check_health)
            return
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
            if writer is not self._writer:  # the check found it dead and connected again
                await super().send_packed_command(command, check_health=False)
                return
        try:
            writer.writelines([command] if isinstance(command, bytes) else command)
            if _cannot_wait(writer.transport):
                await writer.drain()  # not paused: returns without waiting
            else:
                await asyncio.wait_for(writer.drain(), self.socket_timeout)
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:
            await self.disconnect(nowait=True)
            raise

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109  (redis-py's signature)
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        """A reply already read from the socket (a pipeline's second reply onwards) is
        taken as it is; only a read that waits for the socket goes redis-py's way, under the
        socket timeout."""
        reader = self._buffered_reader() if timeout is None and not push_request else None
        if reader is None:
            return await super().read_response(
                disable_decoding,
                timeout,
                disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )
        # What redis-py does with a reply it has read, in its order: bytes that are no reply
        # drop the connection whatever the caller asked (nothing after them can be read); a
        # RESP3 push message (maintenance, invalidation) goes to its parser, and the reply
        # is still to come; a connection error in the reply, or one the push raised, drops
        # the connection when asked and is raised; an error reply is raised; the health
        # check is due an interval after the last reply.
        try:
            reply = reader.gets(False) if disable_decoding else reader.gets()
        except BaseException:
            await self.disconnect(nowait=True)
            raise
        try:
            if reply is not _NOT_ENOUGH_DATA and _is_push(self._parser, reply):
                await self._parser.handle_push_response(reply)  # type: ignore[attr-defined]
                reply = _NOT_ENOUGH_DATA
            failed = reply[0] if isinstance(reply, list) and reply else reply
            if isinstance(failed, RedisConnectionError):
                raise failed
        except BaseException:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise
        if reply is _NOT_ENOUGH_DATA:  # nothing taken: wait for it, as redis-py waits
            return await super().read_response(
                disable_decoding, None, disconnect_on_error=disconnect_on_error
            )
        if self.health_check_interval:
            loop = asyncio.get_running_loop()
            self.next_health_check = loop.time() + self.health_check_interval
        if isinstance(reply, ResponseError):
            raise reply
        return reply

    def pack_command(self, *args: Any) -> list[bytes]:
        """A command of text, bytes and whole numbers packed by hiredis at once; anything
        else (a float, a bool, a memoryview, a name of two words) redis-py's way."""
        if self._quick_pack is None:
            encoder = self.encoder
            self._quick_pack = (
                _HiredisSerializer is not None
                and type(self._command_packer) is _HiredisSerializer
                and (encoder.encoding, encoder.encoding_errors) == ("utf-8", "strict")
            )
        if self._quick_pack:
            name = args[0]
            if type(name) is str and " " not in name:
                packed = _packed(args)
                if packed is not None:
                    return [packed]
        return super().pack_command(*args)

    _quick_pack: bool | None = None

    def _buffered_reader(self) -> Any:
        """hiredis's reader of this connection's replies, when the connection is open and
        reads through redis-py's hiredis parser; else None."""
        parser = self._parser
        if (
            _HiredisParser is None
            or type(parser) is not _HiredisParser
            or not getattr(parser, "_connected", False)
        ):
            return None
        return getattr(parser, "_reader", None)


def _packed(args: tuple[Any, ...]) -> bytes | None:
    """``args`` as one RESP command, as redis-py's encoder writes them (text as UTF-8, whole
    numbers in decimal: hiredis writes both alike); None for any other kind of argument."""
    for arg in args:
        kind = type(arg)
        if kind is not str and kind is not bytes and kind is not int:  # a bool is not an int
            return None
    return cast(bytes, _pack(cast(Any, args)))


def _is_push(parser: object, reply: object) -> bool:
    push = getattr(parser, "_hiredis_PushNotificationType", None)
    return push is not None and isinstance(reply, push)


def _cannot_wait(transport: asyncio.BaseTransport) -> bool:
    """The transport's write buffer is at most its low-water mark: writing is not paused."""
    try:
        size = transport.get_write_buffer_size()  # type: ignore[attr-defined]
        low, _high = transport.get_write_buffer_limits()  # type: ignore[attr-defined]
    except (AttributeError, NotImplementedError):
        return False
    return bool(size <= low)


class QuickConnection(QuickSend, Connection):
    pass


class QuickSSLConnection(QuickSend, SSLConnection):
    pass


class QuickUnixConnection(QuickSend, UnixDomainSocketConnection):
    pass


_QUICK: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: QuickConnection,
    SSLConnection: QuickSSLConnection,
    UnixDomainSocketConnection: QuickUnixConnection,
}


def quick_pool(url: str, **options: Any) -> "QuickPool":
    """A ``QuickPool`` for ``url`` whose connections send the quick way (the URL's own kind
    of connection: TCP, TLS or a Unix socket)."""
    kind = parse_url(url).get("connection_class", Connection)
    return QuickPool.from_url(url, connection_class=_QUICK.get(kind, kind), **options)


class QuickPool(BlockingConnectionPool):
    def _quiet(self) -> bool:
        """Nobody is inside the pool's lock or its condition."""
        return not self._lock.locked() and not self._condition.locked()

    async def get_connection(
        self, command_name: Any = None, *keys: Any, **options: Any
    ) -> AbstractConnection:
        if not (self._available_connections and self._quiet()):
            return await super().get_connection()  # type: ignore[no-untyped-call,no-any-return]
        connection = self._available_connections.pop()
        self._in_use_connections.add(connection)
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: AbstractConnection) -> None:
        waiting = getattr(self._condition, "_waiters", True)  # unknown: assume someone waits
        reconnect = getattr(connection, "should_reconnect", None)
        if waiting or not self._quiet() or reconnect is None or reconnect():
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        self._available_connections.append(connection)
