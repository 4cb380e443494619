"""Which Slack threads the bot follows, and the bot thread each one belongs to.

A mention or ``/deploy`` marks its Slack thread (``...:{<derived id>}:slack`` = the bot
thread's id, with a TTL renewed by each message), so later plain replies in that Slack thread
reach the bot and other threads' chatter does not. Usually the bot thread's id is the one
derived from the Slack thread; a thread that started elsewhere (a schedule or a webhook that
reports to a Slack channel) is marked under the derived id of the Slack thread its report
opened, so replies there continue it.
"""

from redis.asyncio import Redis

from bot.shell.store.keys import Keys, text

__all__ = ["FollowedThreads"]

_FOLLOW_S = 90 * 86400


class FollowedThreads:
    def __init__(self, *, redis: "Redis", keys: Keys, ttl_s: int = _FOLLOW_S) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def owner(self, slack_thread: str) -> str | None:
        """The bot thread the Slack thread (by its derived id) belongs to, if followed."""
        found = await self._redis.get(self._keys.slack_thread(slack_thread))
        return text(found) if found is not None else None

    async def follow(self, slack_thread: str, thread_id: str) -> None:
        await self._redis.set(self._keys.slack_thread(slack_thread), thread_id, ex=self._ttl_s)
