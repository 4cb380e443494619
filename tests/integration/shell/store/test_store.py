"""The Redis-side building blocks on a real Redis: CAS, claims, leases, locks, the outbox."""

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from bot.core.errors import ThreadConflict
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.events import MessageSent, UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.thread import Thread
from bot.shell.lock.holder import LockHolder
from bot.shell.lock.lease import EnvLock
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ClaimTaken, ThreadStore
from bot.shell.streams.outbox import Outbox
from tests.support import count_round_trips

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def new_thread(thread_id: str = "t1") -> Thread:
    return Thread(id=thread_id, origin=ApiOrigin(), created_at=AT)


async def test_concurrent_appends_resolve_conflicts_and_lose_nothing(
    redis: Redis, key_prefix: str
) -> None:
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    await store.save(new_thread())
    conflicts = 0

    async def append(n: int) -> None:
        nonlocal conflicts
        while True:
            thread = await store.load("t1")
            assert thread is not None
            thread.events.append(UserMessage(id=f"m{n}", at=AT, actor="api:carol", text=str(n)))
            await asyncio.sleep(0)  # let the others interleave between load and save
            try:
                await store.save(thread)
                return
            except ThreadConflict:
                conflicts += 1

    await asyncio.gather(*(append(n) for n in range(40)))
    thread = await store.load("t1")
    assert thread is not None
    assert sorted(e.id for e in thread.events) == sorted(f"m{n}" for n in range(40))
    assert thread.version == 41
    assert conflicts > 0  # the test really raced


async def test_a_claim_is_taken_once_and_only_with_the_save(redis: Redis, key_prefix: str) -> None:
    keys = Keys(key_prefix)
    store = ThreadStore(redis=redis, keys=keys)
    thread = new_thread()
    await store.save(thread)
    stale = await store.load("t1")
    assert stale is not None
    claim = keys.idempotency("t1", "abcd")
    await store.save(thread, claim=claim)
    with pytest.raises(ThreadConflict):
        await store.save(stale, claim=keys.idempotency("t1", "other"))
    assert not await redis.exists(keys.idempotency("t1", "other"))  # no claim without a save
    fresh = await store.load("t1")
    assert fresh is not None
    with pytest.raises(ClaimTaken):
        await store.save(fresh, claim=claim)
    assert (await store.load("t1")).version == fresh.version  # type: ignore[union-attr]


async def test_one_lease_holder_at_a_time(redis: Redis, key_prefix: str) -> None:
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    await store.save(new_thread())
    got_a, thread = await store.lease_and_load("t1", token="a", ttl_ms=5000)
    got_b, nothing = await store.lease_and_load("t1", token="b", ttl_ms=5000)
    assert (got_a, thread is not None, got_b, nothing) == (True, True, False, None)
    assert await store.renew_lease("t1", token="a", ttl_ms=5000)
    assert not await store.renew_lease("t1", token="b", ttl_ms=5000)
    await store.release_lease("t1", token="b")  # not the holder: no effect
    assert not (await store.lease_and_load("t1", token="b", ttl_ms=5000))[0]
    await store.release_lease("t1", token="a")
    assert (await store.lease_and_load("t1", token="b", ttl_ms=50))[0]
    await asyncio.sleep(0.1)  # an expired lease can be taken by anyone
    assert (await store.lease_and_load("t1", token="c", ttl_ms=5000))[0]


async def test_env_lock_is_visible_and_its_fencing_token_only_grows(
    redis: Redis, key_prefix: str
) -> None:
    lock = EnvLock(redis=redis, keys=Keys(key_prefix), guard=None)
    holder = LockHolder(thread_id="t1", who="carol", why="deploy backend v1", since=AT)
    ok, first = await lock.acquire(
        service="backend", environment="production", holder=holder, ttl_ms=5000
    )
    assert ok
    busy, current = await lock.acquire(
        service="backend",
        environment="production",
        holder=holder.model_copy(update={"thread_id": "t2"}),
        ttl_ms=5000,
    )
    assert not busy
    assert (current.thread_id, current.who, current.why) == ("t1", "carol", "deploy backend v1")
    assert await lock.holder(service="backend", environment="production") == current
    assert not await lock.release(service="backend", environment="production", token=999)
    assert await lock.release(
        service="backend", environment="production", token=first.fencing_token
    )
    ok, second = await lock.acquire(
        service="backend", environment="production", holder=holder, ttl_ms=5000
    )
    assert ok
    assert second.fencing_token > first.fencing_token
    other_env, _ = await lock.acquire(
        service="backend", environment="staging", holder=holder, ttl_ms=5000
    )
    assert other_env  # environments are locked separately


class Recorder:
    def __init__(self, *, fail_first: int = 0) -> None:
        self.sent: list[str] = []
        self.fail_first = fail_first

    async def send(self, message: OutboundMessage) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("channel down")
        self.sent.append(message.text)


async def queued(
    redis: Redis, key_prefix: str, count: int
) -> tuple[Outbox, Thread, list[MessageSent]]:
    """An ``api`` outbox with ``count`` messages of one thread queued ("hello 0", ...)."""
    outbox = Outbox(redis=redis, keys=Keys(key_prefix))
    await outbox.ensure_group("api")
    thread = new_thread()
    messages = [MessageSent(id=f"m{n}", at=AT, text=f"hello {n}") for n in range(count)]
    thread.events.extend(messages)
    await outbox.enqueue(thread, messages)
    return outbox, thread, messages


async def test_outbox_retries_failures_and_never_sends_twice(redis: Redis, key_prefix: str) -> None:
    outbox, thread, messages = await queued(redis, key_prefix, 3)
    await outbox.enqueue(thread, messages[:1])  # a worker re-enqueued after a crash
    down = Recorder(fail_first=10)
    assert await outbox.deliver_some(channel="api", sender=down, consumer="d", block_ms=None) == 0
    up = Recorder()
    await asyncio.sleep(0.05)
    sent = await outbox.deliver_some(
        channel="api", sender=up, consumer="d", block_ms=None, retry_idle_ms=10
    )
    assert sent == 3
    assert up.sent == ["hello 0", "hello 1", "hello 2"]
    assert await outbox.pending("api") == 0
    assert await outbox.undelivered(thread) == []


async def test_a_busy_outbox_takes_two_round_trips_a_batch_and_sends_each_message_once(
    redis: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven batches of three, one message enqueued again in a later batch (a worker that
    re-enqueued after a crash): one call delivers them all, each once, in one read plus two
    round trips a batch (which were delivered before; the acknowledgements with the next
    read), and leaves nothing pending."""
    outbox, thread, messages = await queued(redis, key_prefix, 20)
    await outbox.enqueue(thread, messages[:1])
    trips = count_round_trips(monkeypatch)
    up = Recorder()
    sent = await outbox.deliver_some(
        channel="api", sender=up, consumer="d", block_ms=None, count=3, batches=10
    )
    monkeypatch.undo()
    assert sent == 20
    assert up.sent == [f"hello {n}" for n in range(20)]
    assert trips[0] == 1 + 2 * 7
    assert await outbox.pending("api") == 0


async def test_a_failing_batch_ends_the_call_and_is_retried_later(
    redis: Redis, key_prefix: str
) -> None:
    outbox, _thread, _messages = await queued(redis, key_prefix, 6)
    flaky = Recorder(fail_first=1)  # the first send fails: that batch's others still go
    sent = await outbox.deliver_some(
        channel="api", sender=flaky, consumer="d", block_ms=None, count=2
    )
    assert sent == 1  # the batch with the failure is the last of the call
    assert outbox.failing["api"] is None  # one of the batch went through: not failing
    assert await outbox.pending("api") == 5
    await asyncio.sleep(0.05)
    sent = await outbox.deliver_some(
        channel="api", sender=flaky, consumer="d", block_ms=None, count=2, retry_idle_ms=10
    )
    assert sent == 5
    assert sorted(flaky.sent) == sorted(f"hello {n}" for n in range(6))
    assert await outbox.pending("api") == 0
