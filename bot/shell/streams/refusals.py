"""Emails refused for authentication, kept for the audit, counted for /metrics.

Each refusal is one entry of a capped Redis stream (``Keys.email_refused``: the newest
``MAX_KEPT`` are kept) and one increment of ``deploybot_email_refused_total{reason=...}``,
in one round trip. ``notice_due`` rate-limits the note to the person a refused message
claimed to be: at most one per ``interval_s`` per person, across every mail process.
"""

from datetime import datetime

from pydantic import ValidationError
from redis.asyncio import Redis

from bot.core.thread.audit import MailRefusal
from bot.shell.store.keys import Keys, text

__all__ = ["MAX_KEPT", "MailRefusals"]

MAX_KEPT = 1000


class MailRefusals:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def record(self, refusal: MailRefusal) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                self._keys.email_refused(),
                {"r": refusal.model_dump_json()},
                maxlen=MAX_KEPT,
                approximate=False,
            )
            pipe.hincrby(self._keys.metrics(), f"email_refused_total|reason={refusal.kind}", 1)
            await pipe.execute()

    async def since(self, start: datetime) -> list[MailRefusal]:
        """The refusals at or after ``start`` (by their own time, from the injected clock),
        oldest first; unreadable entries are skipped. At most ``MAX_KEPT`` are kept."""
        entries = await self._redis.xrange(self._keys.email_refused())
        found = []
        for _entry_id, fields in entries or []:
            try:
                refusal = MailRefusal.model_validate_json(text((fields or {}).get(b"r", b"")))
            except ValidationError:
                continue
            if refusal.at >= start:
                found.append(refusal)
        return found

    async def notice_due(self, person: str, *, interval_s: float) -> bool:
        """True at most once per ``interval_s`` for ``person`` (claims the slot)."""
        key = self._keys.email_refusal_notice(person)
        claimed = await self._redis.set(key, "1", nx=True, px=max(int(interval_s * 1000), 1))
        return bool(claimed)
