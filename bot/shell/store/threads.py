"""The thread store: threads in Redis, saved by compare-and-set on their version.

A thread is one string ``<version>|<encoded thread>`` (see ``bot.shell.store.codec``; a string, not
a hash: a hash with a kilobyte value costs Redis about 160 bytes more). Saving is a Lua script
that checks the version and, when asked, claims an idempotency key in the same atomic step,
so "record deploy_started" and "nobody else has started this plan" can never come apart.
The per-thread lease (one worker advances a thread at a time) is taken in the same round
trip as the load.
"""

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.errors import ThreadConflict
from bot.core.thread.events import Event
from bot.core.thread.thread import Thread
from bot.shell.store.codec import decode_thread, encode_thread
from bot.shell.store.keys import Keys, queue_script, text

__all__ = ["ClaimTaken", "ThreadStore", "stored_thread"]

log = logging.getLogger(__name__)

_LEASE_AND_LOAD = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('GET', KEYS[2]) or ''
"""

_SAVE = """
local cur = redis.call('GET', KEYS[1])
local v = '0'
if cur then v = string.match(cur, '^(%d+)|') end
if v ~= ARGV[1] then return 0 end
if ARGV[4] ~= '' then
  if not redis.call('SET', KEYS[2], ARGV[4], 'NX') then return -1 end
end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3])
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class ClaimTaken(Exception):
    """The idempotency key was already claimed: this plan has been started before."""


def _decode(stored: bytes) -> Thread | None:
    if not stored:
        return None
    version, _, blob = stored.partition(b"|")
    return decode_thread(blob, version=int(version))


def stored_thread(raw: object) -> Thread | None:
    """A thread as ``ThreadStore.load_in``'s read returns it (None: no such thread)."""
    return _decode(cast(bytes | None, raw) or b"")


class ThreadStore:
    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._lease_and_load = redis.register_script(_LEASE_AND_LOAD)
        self._save = redis.register_script(_SAVE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    def pipeline(self) -> "Pipeline":
        """A non-transactional pipeline on the same Redis, for batching a turn's last writes."""
        return self._redis.pipeline(transaction=False)

    async def load(self, thread_id: str) -> Thread | None:
        return _decode(
            cast(bytes | None, await self._redis.get(self._keys.thread(thread_id))) or b""
        )

    def load_in(self, pipe: "Pipeline", thread_id: str) -> None:
        """Queue ``load``'s read on a pipeline (``stored_thread`` reads its reply)."""
        pipe.get(self._keys.thread(thread_id))

    async def lease_and_load(
        self, thread_id: str, *, token: str, ttl_ms: int
    ) -> tuple[bool, Thread | None]:
        """Take (or extend) the thread's lease and load it. ``(False, None)``: someone else
        holds the lease."""
        keys = [self._keys.lease(thread_id), self._keys.thread(thread_id)]
        got = await self._lease_and_load(keys=keys, args=[token, ttl_ms])
        if got is None:
            return False, None
        return True, _decode(cast(bytes, got))

    async def renew_lease(self, thread_id: str, *, token: str, ttl_ms: int) -> bool:
        return bool(await self._renew(keys=[self._keys.lease(thread_id)], args=[token, ttl_ms]))

    async def release_lease(self, thread_id: str, *, token: str) -> None:
        await self._release(keys=[self._keys.lease(thread_id)], args=[token])

    def release_lease_in(self, pipe: "Pipeline", thread_id: str, *, token: str) -> None:
        """Queue the lease release on a pipeline (saves a round trip at the end of a turn)."""
        queue_script(pipe, self._release, keys=[self._keys.lease(thread_id)], args=[token])

    async def save(
        self,
        thread: Thread,
        *,
        claim: str | None = None,
        with_it: Callable[["Pipeline"], None] | None = None,
        replicas: int = 0,
        replicas_timeout_ms: int = 1000,
    ) -> int:
        """Save if nobody saved since ``thread.version`` was loaded; bump the version.

        ``claim``: an idempotency key (see ``Keys.idempotency``) to claim atomically with the
        save; ``ClaimTaken`` if it already exists. ``with_it``: for a new thread, queues more
        commands (its first event's publication) right behind the save in the same round
        trip. Not MULTI/EXEC: the keys live in different hash slots, which Redis Cluster
        refuses in one transaction; only a connection lost inside that one write can split
        them.

        ``replicas``: after the write, on the same connection, ``WAIT`` until that many
        replicas have it (at most ``replicas_timeout_ms``). Returns how many acknowledged it
        (0 when not asked): a failover to a replica that lacks a claim would let its plan run
        again, so a caller that needs the claim durable checks this.
        """
        new_version = thread.version + 1
        acked = 0
        keys = [self._keys.thread(thread.id), claim or self._keys.thread(thread.id)]
        args: list[int | str | bytes] = [
            thread.version,
            new_version,
            encode_thread(thread),
            thread.id if claim else "",
        ]
        if new_version == 1:  # a new thread: also index it (harmless if the save loses)
            pipe = self._redis.pipeline(transaction=False)
            queue_script(pipe, self._save, keys=keys, args=args)
            pipe.zadd(self._keys.thread_index(), {thread.id: thread.created_at.timestamp()})
            if with_it is not None:
                with_it(pipe)
            result, *_ = await pipe.execute()
        elif replicas > 0:
            assert with_it is None, "with_it is for new threads only"
            pipe = self._redis.pipeline(transaction=False)  # one connection: WAIT sees it
            queue_script(pipe, self._save, keys=keys, args=args)
            pipe.execute_command("WAIT", replicas, replicas_timeout_ms)
            result, acked = await pipe.execute()
        else:
            assert with_it is None, "with_it is for new threads only"
            result = await self._save(keys=keys, args=args)
        if result == 0:
            raise ThreadConflict(f"thread {thread.id} changed since version {thread.version}")
        if result == -1:
            raise ClaimTaken(claim)
        thread.version = new_version
        return int(acked)

    async def save_adding(self, thread: Thread, events: Sequence[Event], *, tries: int = 5) -> None:
        """Append ``events`` (those not in it yet) and save; if another worker saved meanwhile,
        append them onto its version instead: what ends a deploy is not lost to a concurrent
        write. Logged when every try conflicted."""
        thread.events.extend(e for e in events if e not in thread.events)
        for _ in range(tries):
            try:
                await self.save(thread)
                return
            except ThreadConflict:
                fresh = await self.load(thread.id)
                if fresh is None:
                    raise
                fresh.events.extend(events)
                thread.events[:] = fresh.events
                thread.version = fresh.version
        log.error("could not save the end of a deploy in thread %s", thread.id)

    async def threads_since(self, since: datetime) -> AsyncIterator[Thread]:
        """Threads created at or after ``since``, oldest first, loaded in batches."""
        ids = await self._redis.zrangebyscore(self._keys.thread_index(), since.timestamp(), "+inf")
        for start in range(0, len(ids), 100):
            batch = [text(i) for i in ids[start : start + 100]]
            pipe = self._redis.pipeline(transaction=False)  # not MGET: threads span slots
            for thread_id in batch:
                pipe.get(self._keys.thread(thread_id))
            blobs = await pipe.execute()
            for blob in blobs:
                if blob and (thread := _decode(cast(bytes, blob))) is not None:
                    yield thread

    async def recent_ids(self, *, limit: int = 50) -> list[str]:
        ids = await self._redis.zrevrange(self._keys.thread_index(), 0, limit - 1)
        return [text(i) for i in ids]

    async def memory_bytes(self, thread_id: str) -> int:
        """Bytes Redis uses for the thread's own key (for the benchmark)."""
        used = await self._redis.memory_usage(self._keys.thread(thread_id))
        return int(used or 0)
