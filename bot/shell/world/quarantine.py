"""Quarantined commits, per service and environment, in Redis.

A commit that failed verification or was rolled back is put here, keyed by its sha (entries
stored before commits were recorded are keyed by their tag name, and resolved when read:
``bot.core.policy.quarantine``); planning refuses to deploy it to that environment again,
under any tag (a person, a schedule or a webhook alike), until someone allowed to releases
it. The thread that quarantined it, and the one that released it, keep the events for the
audit (``version_quarantined``, ``version_released``).

What is quarantined, and what a ``release`` lifts, is decided by ``bot.core.policy.quarantine``;
this module only stores and reads the entries.
"""

from collections.abc import Mapping

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.thread.plan import Quarantined
from bot.shell.store.keys import Keys, text

__all__ = ["QuarantineList", "entries"]


class QuarantineList:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def add(self, *, service: str, environment: str, entry: Quarantined) -> bool:
        """Quarantine ``entry.sha`` (its version where the commit is not known); False when
        it already was (the first reason stays)."""
        key = self._keys.quarantine(service, environment)
        field = entry.sha or entry.version
        return bool(await self._redis.hsetnx(key, field, entry.model_dump_json()))

    async def remove(self, *, service: str, environment: str, key: str) -> Quarantined | None:
        """Lift the entry stored under ``key`` (as ``of`` returns it)."""
        hash_key = self._keys.quarantine(service, environment)
        raw = await self._redis.hget(hash_key, key)
        if raw is None or not await self._redis.hdel(hash_key, key):
            return None
        return Quarantined.model_validate_json(raw)

    async def of(self, *, service: str, environment: str) -> Mapping[str, Quarantined]:
        """Every quarantine entry of the pair, by stored key (a sha, or an old entry's tag)."""
        return entries(await self._redis.hgetall(self._keys.quarantine(service, environment)))

    def of_in(self, pipe: "Pipeline", *, service: str, environment: str) -> None:
        """Queue ``of``'s read on a pipeline (``entries`` reads its reply)."""
        pipe.hgetall(self._keys.quarantine(service, environment))


def entries(raw: Mapping[bytes | str, bytes | str]) -> Mapping[str, Quarantined]:
    """A pair's quarantine entries as an ``HGETALL`` of it returns them."""
    return {text(v): Quarantined.model_validate_json(r) for v, r in raw.items()}
