"""One deploy at a time per service and environment: a lease with a fencing token.

The lock is visible: its value says which thread holds it, who asked, why and since when.
The fencing token only ever grows, so a deploy script (or the system it talks to) can refuse
a stale holder that lost the lock while paused.

A deploy whose worker died before it recorded a result is *interrupted*: nobody knows what
its command did. Its lock is then kept without expiry (``hold_interrupted``) so no other deploy
of that service and environment starts until a person has looked and said so
(``release_interrupted``, through ``unlock <environment>``).
"""

import asyncio
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.shell.keys import Keys, queue_script

__all__ = ["EnvLock", "LockHolder"]

_ACQUIRE = """
local cur = redis.call('GET', KEYS[1])
if cur then return {0, cur} end
local token = redis.call('INCR', KEYS[2])
local value = string.gsub(ARGV[1], '"fencing_token":0', '"fencing_token":' .. token, 1)
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {token, value}
"""

_RENEW = """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur)['fencing_token'] ~= tonumber(ARGV[1]) then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

_RELEASE = """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if cjson.decode(cur)['fencing_token'] ~= tonumber(ARGV[1]) then return 0 end
return redis.call('DEL', KEYS[1])
"""


_HOLD_INTERRUPTED = """
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur)['fencing_token'] ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""

_RELEASE_INTERRUPTED = """
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if not cjson.decode(cur)['interrupted'] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class LockHolder(BaseModel):
    model_config = ConfigDict(frozen=True)

    thread_id: str
    who: str
    why: str
    since: datetime
    fencing_token: int = 0
    # Held for a deploy whose outcome is unknown, until a person releases it.
    interrupted: bool = False


class EnvLock:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._hold_interrupted = redis.register_script(_HOLD_INTERRUPTED)
        self._release_interrupted = redis.register_script(_RELEASE_INTERRUPTED)

    def _key_pair(self, service: str, environment: str) -> list[str]:
        return [self._keys.env_lock(service, environment), self._keys.fence(service, environment)]

    async def acquire(
        self, *, service: str, environment: str, holder: LockHolder, ttl_ms: int
    ) -> tuple[bool, LockHolder]:
        """``(True, holder-with-token)`` or ``(False, current holder)``."""
        value = holder.model_copy(update={"fencing_token": 0}).model_dump_json()
        token, stored = await self._acquire(
            keys=self._key_pair(service, environment), args=[value, ttl_ms]
        )
        return int(token) > 0, LockHolder.model_validate_json(stored)

    async def acquire_within(
        self, *, service: str, environment: str, holder: LockHolder, ttl_ms: int, wait_s: float
    ) -> tuple[bool, LockHolder]:
        """``acquire``, waiting up to ``wait_s`` (backing off) while another deploy holds it;
        not at all for a lock held after an interrupted deploy (it waits for a person)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        pause_s = 0.02
        while True:
            ok, current = await self.acquire(
                service=service, environment=environment, holder=holder, ttl_ms=ttl_ms
            )
            if ok or loop.time() >= deadline or current.interrupted:
                return ok, current
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.5)

    async def renew(self, *, service: str, environment: str, token: int, ttl_ms: int) -> bool:
        key = self._keys.env_lock(service, environment)
        return bool(await self._renew(keys=[key], args=[token, ttl_ms]))

    async def release(self, *, service: str, environment: str, token: int) -> bool:
        key = self._keys.env_lock(service, environment)
        return bool(await self._release(keys=[key], args=[token]))

    def release_in(self, pipe: "Pipeline", *, service: str, environment: str, token: int) -> None:
        """Queue the release on a pipeline the caller executes."""
        key = self._keys.env_lock(service, environment)
        queue_script(pipe, self._release, keys=[key], args=[token])

    async def hold_interrupted(
        self, *, service: str, environment: str, token: int, holder: LockHolder
    ) -> bool:
        """Keep the lock of the deploy fenced by ``token`` (or take it back if it expired and
        nobody else took it), without expiry, marked interrupted. False: another deploy holds
        it now (its command cannot be ours: a deploy command dies with its worker)."""
        key = self._keys.env_lock(service, environment)
        value = holder.model_copy(update={"fencing_token": token, "interrupted": True})
        return bool(await self._hold_interrupted(keys=[key], args=[token, value.model_dump_json()]))

    async def release_interrupted(self, *, service: str, environment: str) -> LockHolder | None:
        """Release an interrupted deploy's lock after a person checked; returns what it was."""
        current = await self.holder(service=service, environment=environment)
        if current is None or not current.interrupted:
            return None
        key = self._keys.env_lock(service, environment)
        return current if await self._release_interrupted(keys=[key]) else None

    async def holders(self, *, services: list[str], environment: str) -> list[LockHolder | None]:
        """Each service's deploy lock in ``environment``, read in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for service in services:
            pipe.get(self._keys.env_lock(service, environment))
        raw = await pipe.execute()
        return [LockHolder.model_validate_json(r) if r else None for r in raw]

    async def holder(self, *, service: str, environment: str) -> LockHolder | None:
        raw = await self._redis.get(self._keys.env_lock(service, environment))
        return LockHolder.model_validate_json(raw) if raw else None

    # -- a person's lock on a whole environment (no expiry: someone must unlock it) ------

    async def freeze(self, *, environment: str, holder: LockHolder) -> tuple[bool, LockHolder]:
        """``(True, holder)``, or ``(False, who holds it already)``."""
        key = self._keys.freeze(environment)
        if await self._redis.set(key, holder.model_dump_json(), nx=True):
            return True, holder
        current = await self.frozen(environment=environment)
        return (
            (False, current)
            if current
            else await self.freeze(environment=environment, holder=holder)
        )

    async def unfreeze(self, *, environment: str) -> LockHolder | None:
        """Remove the lock; returns who held it (None if nobody did)."""
        raw = await self._redis.getdel(self._keys.freeze(environment))
        return LockHolder.model_validate_json(raw) if raw else None

    async def frozen(self, *, environment: str) -> LockHolder | None:
        raw = await self._redis.get(self._keys.freeze(environment))
        return LockHolder.model_validate_json(raw) if raw else None

    async def states(
        self, *, service: str, environments: list[str]
    ) -> list[tuple[LockHolder | None, LockHolder | None]]:
        """For each environment: (a person's lock on it, a deploy of ``service`` running
        there), read in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for env in environments:
            pipe.get(self._keys.freeze(env))
            pipe.get(self._keys.env_lock(service, env))
        raw = await pipe.execute()
        held = [LockHolder.model_validate_json(r) if r else None for r in raw]
        return list(zip(held[0::2], held[1::2], strict=True))
