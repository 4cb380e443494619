"""The channels' own small state in Redis: the ``SlackState`` and ``MailState`` ports
(``bot.core.ports.channel_state``).

Slack: one key per posted message (``Keys.slack_message``, kept ``posted_ttl_s``) and one
per followed Slack thread (``Keys.slack_thread``, renewed by each message, kept
``follow_ttl_s``). Email: one hash per mailbox (``Keys.email_mailbox``: ``validity``,
``last_uid``, ``tries:<uid>``) and one set per outbound message of the copies sent
(``Keys.email_sent``, kept ``sent_ttl_s``, long enough for any retry).
"""

from redis.asyncio import Redis

from bot.core.ports.channel_state import MailboxMark, Posted
from bot.shell.store.keys import Keys, text

__all__ = ["RedisMailState", "RedisSlackState"]

_POSTED_S = 14 * 86400
_FOLLOW_S = 90 * 86400
_SENT_S = 7 * 86400


class RedisSlackState:
    def __init__(
        self,
        *,
        redis: "Redis",
        keys: Keys,
        posted_ttl_s: int = _POSTED_S,
        follow_ttl_s: int = _FOLLOW_S,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._posted_ttl_s = posted_ttl_s
        self._follow_ttl_s = follow_ttl_s

    async def posted(self, thread_id: str, message_id: str) -> Posted | None:
        raw = await self._redis.get(self._keys.slack_message(thread_id, message_id))
        if raw is None:
            return None
        try:
            return Posted.model_validate_json(raw)
        except ValueError:
            return None  # unreadable: treat as never posted

    async def remember_posted(self, thread_id: str, message_id: str, posted: Posted) -> None:
        await self._redis.set(
            self._keys.slack_message(thread_id, message_id),
            posted.model_dump_json(exclude_defaults=True),
            ex=self._posted_ttl_s,
        )

    async def owner(self, slack_thread: str) -> str | None:
        found = await self._redis.get(self._keys.slack_thread(slack_thread))
        return text(found) if found is not None else None

    async def follow(self, slack_thread: str, thread_id: str) -> None:
        key = self._keys.slack_thread(slack_thread)
        await self._redis.set(key, thread_id, ex=self._follow_ttl_s)


class RedisMailState:
    def __init__(self, *, redis: "Redis", keys: Keys, sent_ttl_s: int = _SENT_S) -> None:
        self._redis = redis
        self._keys = keys
        self._sent_ttl_s = sent_ttl_s

    async def mark(self, mailbox: str) -> MailboxMark | None:
        got = await self._redis.hmget(self._keys.email_mailbox(mailbox), ["validity", "last_uid"])
        validity, last_uid = (text(v) if v is not None else None for v in got)
        if validity is None:
            return None
        return MailboxMark(validity=validity, last_uid=int(last_uid or "0"))

    async def start_over(self, mailbox: str, *, validity: str) -> None:
        key = self._keys.email_mailbox(mailbox)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"validity": validity, "last_uid": "0"})
            await pipe.execute()

    async def handled(self, mailbox: str, *, uid: int) -> None:
        await self._redis.hset(self._keys.email_mailbox(mailbox), "last_uid", str(uid))

    async def begin_try(self, mailbox: str, *, uid: int) -> int:
        return int(await self._redis.hincrby(self._keys.email_mailbox(mailbox), f"tries:{uid}", 1))

    async def take_back_try(self, mailbox: str, *, uid: int) -> None:
        await self._redis.hincrby(self._keys.email_mailbox(mailbox), f"tries:{uid}", -1)

    async def end_tries(self, mailbox: str, *, uid: int) -> None:
        await self._redis.hdel(self._keys.email_mailbox(mailbox), f"tries:{uid}")

    async def sent_copies(self, thread_id: str, message_id: str) -> set[str]:
        found = await self._redis.smembers(self._keys.email_sent(thread_id, message_id))
        return {text(k) for k in found}

    async def copy_sent(self, thread_id: str, message_id: str, *, copy: str) -> None:
        key = self._keys.email_sent(thread_id, message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, copy)
            pipe.expire(key, self._sent_ttl_s)
            await pipe.execute()
