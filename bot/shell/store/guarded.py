"""The port boundary for store failures: the channels' ports raise the core's ``StoreError``
(``StoreUnavailable`` for an outage), never the Redis client's own errors.

``guarded(port)`` is the port itself with every coroutine method wrapped: a Redis error
raised by the call becomes ``store_error(exc)``, raised from it (the client's error stays the
``__cause__`` for the logs). Everything else passes unchanged: what the call returns, any
other exception (a channel's own sender failing inside ``deliver_some``, a ``ValueError``),
and attributes that are no coroutine methods. Which errors are an outage is
``redis_faults.TRANSIENT``'s list (a dropped or refused connection, a timeout, a server
still loading, a read-only replica), so a channel rides out what a loop rides out.
"""

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from redis.exceptions import RedisError

from bot.core.errors import StoreError, StoreUnavailable
from bot.shell.store.redis_faults import TRANSIENT

__all__ = ["guarded", "store_error"]

P = TypeVar("P")


def store_error(exc: RedisError) -> StoreError:
    """The core's error for a Redis client's error (pure): an outage or another failure."""
    kind = StoreUnavailable if isinstance(exc, TRANSIENT) else StoreError
    return kind(f"redis: {type(exc).__name__}: {exc}")


def _translating(method: Callable[..., Awaitable[object]]) -> Callable[..., Awaitable[object]]:
    @functools.wraps(method)
    async def call(*args: object, **kwargs: object) -> object:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            raise store_error(exc) from exc

    return call


class _Guarded:
    def __init__(self, port: object) -> None:
        self._port = port

    def __getattr__(self, name: str) -> Any:  # the port's own attribute, typed by its Protocol
        attr = getattr(self._port, name)
        return _translating(attr) if inspect.iscoroutinefunction(attr) else attr

    def __repr__(self) -> str:
        return f"guarded({self._port!r})"


def guarded(port: P) -> P:
    """``port``, raising ``StoreError``/``StoreUnavailable`` in place of Redis's errors."""
    return cast(P, _Guarded(port))
