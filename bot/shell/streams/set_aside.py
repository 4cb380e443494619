"""Inputs set aside: logged, counted for /metrics and kept for the audit.

``record`` writes one WARNING line (``input set aside: channel=email reason=too_deep ...``),
one entry of a capped Redis stream (``Keys.set_aside``: the newest ``MAX_KEPT``) and one
increment of ``deploybot_inputs_set_aside_total{channel=...,reason=...}``, in one round
trip. The input itself is never stored or logged: only which one it was and why.
"""

import logging
from datetime import datetime

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.core.thread.set_aside import SetAside, SetAsideChannel, SetAsideReason
from bot.shell.store.keys import Keys, text

__all__ = ["MAX_KEPT", "SetAsideInputs", "set_aside_field"]

log = logging.getLogger("deploybot.set_aside")

MAX_KEPT = 1000


def set_aside_field(channel: SetAsideChannel, reason: SetAsideReason) -> str:
    """The counter's field in the metrics hash (``bot.shell.runtime.metrics.prometheus_line``)."""
    return f"inputs_set_aside_total|channel={channel},reason={reason}"


class SetAsideInputs:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def record(self, item: SetAside) -> None:
        """Log, keep and count ``item``. Redis errors propagate (the caller retries the
        input later, as with any Redis outage); see ``record_quietly``."""
        log.warning(
            "input set aside: channel=%s reason=%s ref=%s: %s",
            item.channel,
            item.reason,
            item.ref,
            item.detail,
            extra={"thread_id": item.thread_id} if item.thread_id else None,
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._keys.set_aside(),
                {"s": item.model_dump_json()},
                maxlen=MAX_KEPT,
                approximate=False,
            )
            pipe.hincrby(self._keys.metrics(), set_aside_field(item.channel, item.reason), 1)
            await pipe.execute()

    async def record_quietly(self, item: SetAside) -> None:
        """``record``, for an edge that answers anyway (an HTTP refusal): a Redis outage is
        logged, never raised."""
        try:
            await self.record(item)
        except (RedisError, OSError) as exc:
            log.warning("input set aside but not counted (redis: %s)", exc)

    async def since(self, start: datetime) -> list[SetAside]:
        """The inputs set aside at or after ``start`` (by their own time), oldest first;
        unreadable entries are skipped. At most ``MAX_KEPT`` are kept."""
        entries = await self._redis.xrange(self._keys.set_aside())
        found = []
        for _entry_id, fields in entries or []:
            try:
                item = SetAside.model_validate_json(text((fields or {}).get(b"s", b"")))
            except ValidationError:
                continue
            if item.at >= start:
                found.append(item)
        return found
