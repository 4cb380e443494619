"""Whether something the App Home shows may have changed, read off the outboxes.

Every change the board shows is told in its thread, and so queued in an outbox stream: a
deploy started or finished, a lock taken or lifted, an approval requested, decided or
expired, a version quarantined. ``OutboxWatch`` watches those streams as a reader of its
own beside the deliverers: no group, nothing acknowledged, nothing written, so the turns that
queue the messages pay nothing for it. Each ``wait`` first compares each stream's last
generated id with the last it saw (``XINFO STREAM``: a message delivered, and so deleted,
while nobody was reading still moved it), then blocks in ``XREAD`` for new entries up to the
caller's timeout. A deploy's progress edits read in ``XREAD`` are not changes. A terminal
session's stream (``deploybot chat``) has a name of its own per session, which cannot be
watched: what is queued there is also told, purpose only, in one shared stream
(``Keys.board_changes``, written beside it by the outbox), which is.

It starts from the streams as they are at its first call; what happened before is on the
board the first refresh reads anyway.
"""

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from bot.shell.store.keys import Keys, text

__all__ = ["WATCHED", "OutboxWatch", "is_change"]

#: The outbox streams watched: every channel but a terminal session's.
WATCHED = ("slack", "email", "api", "schedule")
_BATCH = 200


def is_change(fields: dict[bytes, bytes]) -> bool:
    """An outbox entry tells of a change the board may show (not a progress edit)."""
    raw = fields.get(b"m")
    if raw is None:
        return False
    try:
        message = json.loads(raw)
    except ValueError:
        return True  # unreadable here, readable to its deliverer: better refresh once more
    return not (isinstance(message, dict) and message.get("purpose") == "progress")


class OutboxWatch:
    """``BoardChanges`` (bot/core/ports/home.py) on the outbox streams."""

    def __init__(self, *, redis: "Redis", keys: Keys, channels: Sequence[str] = WATCHED) -> None:
        self._redis = redis
        self._streams = [keys.outbox(c) for c in channels] + [keys.board_changes()]
        self._seen: dict[str, str] = {}  # stream -> the last entry id read

    async def _generated(self) -> dict[str, str]:
        """Each stream's last generated id ("0-0": no such stream yet), in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for stream in self._streams:
            pipe.xinfo_stream(stream)
        infos = await pipe.execute(raise_on_error=False)  # a stream not made yet: an error
        return {
            stream: text(info["last-generated-id"]) if isinstance(info, dict) else "0-0"
            for stream, info in zip(self._streams, infos, strict=True)
        }

    async def wait(self, *, timeout_s: float) -> bool:
        generated = await self._generated()
        if not self._seen:
            self._seen = generated  # the start: only what comes after counts
        elif moved := [s for s, last in generated.items() if _order(last) > _order(self._seen[s])]:
            self._seen.update({s: generated[s] for s in moved})
            return True
        loop = asyncio.get_running_loop()
        began = loop.time()
        block_ms = int(timeout_s * 1000) if timeout_s > 0 else None  # BLOCK 0: for ever
        streams: dict[Any, Any] = dict(self._seen)
        reply = await self._redis.xread(streams, count=_BATCH, block=block_ms)
        changed = False
        for stream, found in _by_stream(reply):
            for entry_id, fields in found:
                self._seen[stream] = entry_id
                changed = changed or is_change(fields)
        if not reply and block_ms and (left := timeout_s - (loop.time() - began)) > 0.01:
            await asyncio.sleep(left)  # a store that does not block (the embedded one)
        return changed


def _order(entry_id: str) -> tuple[int, int]:
    """A stream entry id as a sortable pair (``<ms>-<seq>``)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _by_stream(reply: Any) -> list[tuple[str, list[tuple[str, dict[bytes, bytes]]]]]:
    """``XREAD``'s reply (RESP2 list or RESP3 map) as (stream, [(id, fields)])."""
    if not reply:
        return []
    pairs = reply.items() if isinstance(reply, dict) else reply
    return [
        (text(stream), [(text(eid), dict(fields)) for eid, fields in found if fields])
        for stream, found in pairs
    ]
