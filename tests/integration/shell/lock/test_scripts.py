"""The deploy lock's Lua scripts (``bot.shell.lock.scripts``) run directly on a real Redis,
without ``EnvLock`` around them: a grant writes the holder with its token and the fence
record; renewal and release work only for the holder's own token; tokens only grow, even
after the lock vanishes; a lock that vanished before its lease ended grants nothing until
that lease (plus the stop margin) is over; a not-before time from the data-loss guard holds
every grant back; an interrupted hold is nobody's lease."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.shell.lock import scripts
from bot.shell.store.keys import Keys

# Compact, as ``LockHolder.stored()`` writes it: the grant fills in ``"fencing_token":0``.
HOLDER = json.dumps(
    {"thread_id": "t1", "fencing_token": 0, "interrupted": False}, separators=(",", ":")
)
TTL_MS = 60_000
MARGIN_MS = 2_000


@dataclass
class Pair:
    redis: Redis
    lock: str
    fence: str

    async def call(self, script: str, *args: str | int) -> Any:
        return await self.redis.register_script(script)(keys=[self.lock, self.fence], args=args)

    async def acquire(
        self, *, seen: int = 0, not_before_ms: int = 0, ttl_ms: int = TTL_MS
    ) -> tuple[int, str]:
        got = await self.call(scripts.ACQUIRE, HOLDER, ttl_ms, seen, not_before_ms, "*", MARGIN_MS)
        code, value = got
        return int(code), value.decode() if isinstance(value, bytes) else str(value)

    async def fence_record(self) -> tuple[int, int, str]:
        raw = (await self.redis.get(self.fence)).decode()  # type: ignore[union-attr]
        token, until_ms, released = raw.split(":")
        return int(token), int(until_ms), released

    async def now_ms(self) -> int:
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000


@pytest.fixture
def pair(redis: Redis, key_prefix: str) -> Pair:
    keys = Keys(key_prefix)
    return Pair(
        redis=redis,
        lock=keys.env_lock("backend", "production"),
        fence=keys.fence("backend", "production"),
    )


async def test_a_grant_writes_the_holder_with_its_token_and_a_lease(pair: Pair) -> None:
    before_ms = await pair.now_ms()
    token, value = await pair.acquire()

    assert token >= before_ms  # never below Redis's clock
    assert json.loads(value)["fencing_token"] == token
    assert json.loads(await pair.redis.get(pair.lock))["fencing_token"] == token  # type: ignore[arg-type]
    assert 0 < await pair.redis.pttl(pair.lock) <= TTL_MS
    fence, until_ms, released = await pair.fence_record()
    assert (fence, released) == (token, "0")
    assert until_ms >= before_ms + TTL_MS


async def test_a_held_lock_is_not_granted_again(pair: Pair) -> None:
    token, _ = await pair.acquire()
    code, value = await pair.acquire()
    assert code == 0
    assert json.loads(value)["fencing_token"] == token


async def test_renewal_with_the_holders_token_extends_the_lease(pair: Pair) -> None:
    token, _ = await pair.acquire(ttl_ms=5_000)
    assert await pair.call(scripts.RENEW, token, TTL_MS) == 1
    assert await pair.redis.pttl(pair.lock) > 5_000


async def test_renewal_or_release_with_another_token_leaves_the_lock_alone(pair: Pair) -> None:
    token, _ = await pair.acquire(ttl_ms=5_000)
    assert await pair.call(scripts.RENEW, token - 1, TTL_MS) == 0
    assert await pair.call(scripts.RELEASE, token - 1) == 0
    assert await pair.redis.get(pair.lock) is not None
    assert await pair.redis.pttl(pair.lock) <= 5_000


async def test_release_frees_the_pair_and_the_next_token_is_larger(pair: Pair) -> None:
    first, _ = await pair.acquire()
    assert await pair.call(scripts.RELEASE, first) == 1
    assert await pair.redis.get(pair.lock) is None
    assert (await pair.fence_record())[2] == "1"

    second, _ = await pair.acquire()
    assert second > first


async def test_a_token_never_goes_below_the_highest_the_caller_saw(pair: Pair) -> None:
    far_ahead = await pair.now_ms() + 10_000_000
    token, _ = await pair.acquire(seen=far_ahead)
    assert token == far_ahead + 1


async def test_renewal_never_recreates_a_lost_lock_but_raises_the_fence(pair: Pair) -> None:
    token, _ = await pair.acquire()
    await pair.redis.delete(pair.lock, pair.fence)  # lost with the data
    assert await pair.call(scripts.RENEW, token, TTL_MS) == 0
    assert await pair.redis.get(pair.lock) is None
    assert (await pair.fence_record())[0] == token  # reported back: the next grant is above


async def test_a_lock_that_vanished_before_its_lease_ended_grants_nothing_until_then(
    pair: Pair,
) -> None:
    _token, _ = await pair.acquire()
    _, until_ms, _ = await pair.fence_record()
    await pair.redis.delete(pair.lock)  # deleted by hand or evicted

    code, not_before = await pair.acquire()
    assert code == -1
    assert int(not_before) == until_ms + MARGIN_MS
    assert await pair.redis.get(pair.lock) is None


async def test_no_grant_before_the_quiet_period_after_data_loss_ends(pair: Pair) -> None:
    quiet_until_ms = await pair.now_ms() + 30_000
    code, not_before = await pair.acquire(not_before_ms=quiet_until_ms)
    assert (code, int(not_before)) == (-1, quiet_until_ms)
    assert await pair.redis.get(pair.lock) is None

    token, _ = await pair.acquire(not_before_ms=await pair.now_ms() - 1)  # the period is over
    assert token > 0


async def test_an_interrupted_hold_is_nobodys_lease_until_a_person_releases_it(pair: Pair) -> None:
    token, _ = await pair.acquire()
    interrupted = json.dumps({"thread_id": "t1", "fencing_token": token, "interrupted": True})
    assert await pair.call(scripts.HOLD_INTERRUPTED, token, interrupted) == 1
    assert await pair.redis.pttl(pair.lock) == -1  # kept without expiry

    assert await pair.call(scripts.RENEW, token, TTL_MS) == 0
    assert await pair.call(scripts.RELEASE, token) == 0
    assert await pair.redis.get(pair.lock) is not None

    assert await pair.call(scripts.RELEASE_INTERRUPTED) == 1
    assert await pair.redis.get(pair.lock) is None
    later, _ = await pair.acquire()
    assert later > token


async def test_release_interrupted_leaves_a_running_deploys_lock_alone(pair: Pair) -> None:
    await pair.acquire()
    assert await pair.call(scripts.RELEASE_INTERRUPTED) == 0
    assert await pair.redis.get(pair.lock) is not None
