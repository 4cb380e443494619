"""Which Redis failures a loop rides out, and which mean Redis lost its data.

Transient (``TRANSIENT``): the connection dropped or was refused, a command timed out, the
server is loading its data after a restart (``BusyLoadingError`` is a ``ConnectionError``),
or we reached a replica during a failover (``READONLY``). A loop retries those with backoff.

Data lost (``stream_gone``): a consumer group that existed is gone (``NOGROUP``, or
``UNBLOCKED`` for a read blocked on the stream as it went), which happens only when the
stream key went away: a restart without persistence, ``FLUSHALL``,
or a failover to an empty replica. The loop recreates the group and says what was lost.

Anything else (``WRONGTYPE``, ``NOPERM``, a script error) will not fix itself: the loop
lets it raise, and the task registry records the task as dead.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["TRANSIENT", "Backoff", "pause", "stream_gone", "through_outages"]

TRANSIENT: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    OSError,
)


_PIPELINE_ERROR = " of pipeline caused error: "


def stream_gone(exc: BaseException) -> bool:
    """A reply saying the stream or its consumer group does not exist (``NOGROUP``), or
    that the stream was deleted while we were blocked reading it (``UNBLOCKED``) (pure).
    A command in a pipeline fails with redis-py's annotation in front of the server's reply
    (``Command # 1 (XAUTOCLAIM ...) of pipeline caused error: NOGROUP ...``): the reply is
    read behind it, so a pipelined stream read is recognised like a lone one."""
    if not isinstance(exc, ResponseError):
        return False
    reply = str(exc)
    if reply.startswith("Command # ") and _PIPELINE_ERROR in reply:
        reply = reply.split(_PIPELINE_ERROR, 1)[1]
    return reply.startswith(("NOGROUP", "UNBLOCKED"))


class Backoff:
    """Exponential delays between retries: ``first_s``, doubled up to ``max_s``."""

    def __init__(self, *, first_s: float = 0.1, max_s: float = 5.0) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self.next_s = first_s

    def take(self) -> float:
        delay_s = self.next_s
        self.next_s = min(self.next_s * 2, self.max_s)
        return delay_s

    def reset(self) -> None:
        self.next_s = self.first_s


async def pause(stop: asyncio.Event | None, delay_s: float) -> None:
    """Sleep ``delay_s``, or less if ``stop`` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(delay_s)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay_s)


async def through_outages(
    write: Callable[[], Awaitable[None]], *, what: str, bound_s: float = 120.0
) -> None:
    """Retry ``write`` while Redis is unreachable (backoff 0.2 s to 2 s, for up to
    ``bound_s``), then let the error raise: for a write that must not be lost to a blip (a
    deploy's result, once its command is done)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound_s
    wait_s = 0.2
    while True:
        try:
            await write()
            return
        except TRANSIENT as exc:
            if loop.time() >= deadline:
                raise
            logging.getLogger("deploybot.redis").warning(
                "writing the %s failed (%s); retrying", what, exc
            )
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, 2.0)
