"""Who opened the Slack App Home lately, and what each of them was last shown, in Redis.

One sorted set of Slack user ids scored by when each last opened the Home tab (entries older
than what a refresh asks for are dropped as it reads), and one short string per person: the
fingerprint of the view last published to them, kept a day. ``claim`` compares and sets it
in one script, so of two processes refreshing the same person at once only one publishes.
"""

from datetime import datetime

from redis.asyncio import Redis

from bot.shell.store.keys import Keys, text

__all__ = ["RedisHomeViewers"]

_SHOWN_TTL_S = 86_400

_CLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

_UNCLAIM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisHomeViewers:
    """``HomeViewers`` (bot/core/ports/home.py) in Redis."""

    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._claim = redis.register_script(_CLAIM)
        self._unclaim = redis.register_script(_UNCLAIM)

    async def opened(self, user: str, *, at: datetime) -> None:
        await self._redis.zadd(self._keys.home_viewers(), {user: at.timestamp()})

    async def recent(self, *, since: datetime) -> list[str]:
        key = self._keys.home_viewers()
        pipe = self._redis.pipeline(transaction=False)
        pipe.zremrangebyscore(key, "-inf", f"({since.timestamp()}")
        pipe.zrange(key, 0, -1)
        _, users = await pipe.execute()
        return [text(u) for u in users]

    async def claim(self, user: str, *, fingerprint: str) -> bool:
        key = self._keys.home_shown(user)
        return bool(await self._claim(keys=[key], args=[fingerprint, _SHOWN_TTL_S]))

    async def unclaim(self, user: str, *, fingerprint: str) -> None:
        await self._unclaim(keys=[self._keys.home_shown(user)], args=[fingerprint])
