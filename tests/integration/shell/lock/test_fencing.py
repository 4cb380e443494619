"""Fencing that survives data loss (issue 16.3), on real Redis servers this test starts.

Tokens are compared across ``FLUSHALL``, a restart without persistence and a failover to a
replica that missed writes, each taken by a new process (a new ``EnvLock`` that remembers
nothing); after each loss no lock is granted for a lease plus the stop margin, by any
process, nor after a lock deleted by hand before its lease would have ended; a stale holder
never renews, releases or re-creates a lock; a grant made as the data vanished is given back;
and a command that ignores SIGTERM is killed about a second after its worker falls silent,
not at the end of the grace period.
"""

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.shell.lock.dataloss import STOP_MARGIN_MS, DataLossGuard, quiet_period_ms
from bot.shell.lock.holder import LockHolder
from bot.shell.lock.lease import EnvLock
from bot.shell.process.command_deployer import CommandDeployer
from bot.shell.store.keys import Keys
from tests.faults.conftest import RedisServer
from tests.integration.shell.process.test_deploy_processes import HOSTILE_SH, pids
from tests.integration.shell.process.test_deployer import (
    DEFAULT_ARGV,
    PLAN,
    config,
    script,
    wait_dead,
)

TTL_MS = 300  # the lock lease: quiet periods of 2.3 s keep this file fast
QUIET_S = quiet_period_ms(TTL_MS) / 1000
PAIR = {"service": "backend", "environment": "production"}
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def holder(thread_id: str) -> LockHolder:
    return LockHolder(thread_id=thread_id, who="carol", why="deploy backend v1.4.2", since=AT)


class Process:
    """What one deploybot process has: its own connection, guard and lock (no memory of
    another process's)."""

    def __init__(self, url: str, prefix: str) -> None:
        self.redis = Redis.from_url(url)
        keys = Keys(prefix)
        self.guard = DataLossGuard(
            redis=self.redis,
            keys=keys,
            lock_ttl_ms=TTL_MS,
            new_id=lambda: "m" + str(time.time_ns()),
        )
        self.lock = EnvLock(redis=self.redis, keys=keys, guard=self.guard)

    async def take(self, thread_id: str) -> tuple[bool, LockHolder]:
        return await self.lock.acquire(**PAIR, holder=holder(thread_id), ttl_ms=TTL_MS)

    async def take_within(self, thread_id: str, wait_s: float = 10) -> tuple[LockHolder, float]:
        """Granted (asserted), and how long it waited."""
        began = time.monotonic()
        ok, got = await self.lock.acquire_within(
            **PAIR, holder=holder(thread_id), ttl_ms=TTL_MS, wait_s=wait_s
        )
        assert ok, got
        return got, time.monotonic() - began

    async def close(self) -> None:
        await self.redis.aclose()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[RedisServer]]:
    made: list[RedisServer] = []
    yield made
    for server in made:
        server.stop()


async def test_tokens_never_go_backwards_across_flushall_restart_and_failover(
    tmp_path: Path, servers: list[RedisServer], key_prefix: str
) -> None:
    primary = RedisServer(tmp_path / "p", persistence="none")
    servers.append(primary)
    primary.start()
    first = Process(primary.url, key_prefix)
    tokens: list[int] = []
    waits: dict[str, float] = {}
    try:
        got, waits["new Redis"] = await first.take_within("t0")  # a new Redis: a lease
        tokens.append(got.fencing_token)
        assert await first.lock.release(**PAIR, token=got.fencing_token)
        got, _ = await first.take_within("t1")  # held as the data is lost
        tokens.append(got.fencing_token)

        # FLUSHALL while t0's lease is held: its renewal fails and re-creates nothing.
        primary.client().flushall()
        assert not await first.lock.renew(**PAIR, token=tokens[-1], ttl_ms=TTL_MS)
        assert await first.lock.holder(**PAIR) is None
        second = Process(primary.url, key_prefix)  # knows nothing of t0
        ok, quiet = await second.take("t2")
        assert not ok
        assert quiet.quiet_until is not None
        got, waits["FLUSHALL"] = await second.take_within("t2")
        tokens.append(got.fencing_token)
        await second.close()

        # A restart without persistence.
        primary.kill9()
        primary.start()
        third = Process(primary.url, key_prefix)
        got, waits["restart"] = await third.take_within("t3")
        tokens.append(got.fencing_token)
        assert await third.lock.release(**PAIR, token=got.fencing_token)

        # A replica that stops following (a partition), then more grants on the primary
        # only, then the failover to it.
        replica = RedisServer(tmp_path / "r", persistence="none", replica_of=primary.port)
        servers.append(replica)
        replica.start()
        replica.wait_synced()
        replica.client().replicaof("NO", "ONE")
        got, _ = await third.take_within("t4")  # the replica never sees this one
        tokens.append(got.fencing_token)
        assert replica.client().get(Keys(key_prefix).fence(**PAIR)) is not None
        await third.close()
        fourth = Process(replica.url, key_prefix)
        ok, quiet = await fourth.take("t5")
        assert not ok
        assert quiet.quiet_until is not None
        got, waits["failover"] = await fourth.take_within("t5")
        tokens.append(got.fencing_token)
        await fourth.close()
    finally:
        await first.close()
    shown = {what: round(waited_s, 2) for what, waited_s in waits.items()}
    print(f"tokens {tokens}; waited {shown} s")
    assert tokens == sorted(set(tokens)), f"a token went backwards: {tokens}"
    for what, waited_s in waits.items():
        assert waited_s >= QUIET_S - 0.5, f"{what}: granted after {waited_s:.2f} s"


async def test_a_stale_holder_never_renews_releases_or_re_creates_a_newer_lease(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)  # on the shared Redis, where this prefix is marked intact
    guard = DataLossGuard(redis=redis, keys=keys, lock_ttl_ms=TTL_MS, new_id=lambda: "s1")
    lock = EnvLock(redis=redis, keys=keys, guard=guard)
    ok, stale = await lock.acquire(**PAIR, holder=holder("a"), ttl_ms=TTL_MS)
    assert ok
    began = time.monotonic()  # a's worker pauses: its lease runs out unreleased
    ok, newer = await lock.acquire_within(**PAIR, holder=holder("b"), ttl_ms=5000, wait_s=10)
    waited_s = time.monotonic() - began
    assert ok
    assert newer.fencing_token > stale.fencing_token
    assert waited_s >= (TTL_MS + STOP_MARGIN_MS) / 1000 - 0.1  # its lease + the stop margin
    assert not await lock.renew(**PAIR, token=stale.fencing_token, ttl_ms=60_000)
    assert not await lock.release(**PAIR, token=stale.fencing_token)
    assert await lock.holder(**PAIR) == newer
    assert 0 < await redis.pttl(keys.env_lock(**PAIR)) <= 5000  # not extended by a
    # a's recovery finds b holding: it holds nothing; b's own recovery holds it.
    assert not await lock.hold_interrupted(**PAIR, token=stale.fencing_token, holder=stale)
    assert await lock.hold_interrupted(**PAIR, token=newer.fencing_token, holder=newer)
    for token in (stale.fencing_token, newer.fencing_token):  # nobody's lease now
        assert not await lock.renew(**PAIR, token=token, ttl_ms=1000)
        assert not await lock.release(**PAIR, token=token)
    assert await redis.pttl(keys.env_lock(**PAIR)) == -1  # still held, without expiry
    released = await lock.release_interrupted(**PAIR)
    assert released is not None
    assert released.interrupted
    # Gone, and a newer lease was granted since a's: a's recovery does not bring it back.
    assert not await lock.hold_interrupted(**PAIR, token=stale.fencing_token, holder=stale)
    assert await lock.holder(**PAIR) is None


async def test_a_lock_deleted_by_hand_is_granted_again_only_after_its_lease_would_end(
    redis: Redis, key_prefix: str
) -> None:
    """The same class of loss as FLUSHALL, for one key (``DEL`` by hand, an eviction): the
    intact mark is still there, but the pair's lease record says a lease was running."""
    keys = Keys(key_prefix)
    guard = DataLossGuard(redis=redis, keys=keys, lock_ttl_ms=1000, new_id=lambda: "d1")
    lock = EnvLock(redis=redis, keys=keys, guard=guard)
    ok, running = await lock.acquire(**PAIR, holder=holder("a"), ttl_ms=1000)
    assert ok
    await asyncio.sleep(0.3)
    assert await lock.renew(**PAIR, token=running.fencing_token, ttl_ms=1000)
    renewed = time.monotonic()
    await redis.delete(keys.env_lock(**PAIR))
    ok, quiet = await lock.acquire(**PAIR, holder=holder("b"), ttl_ms=1000)
    assert not ok
    assert quiet.quiet_until is not None
    assert not await lock.renew(**PAIR, token=running.fencing_token, ttl_ms=1000)
    assert await lock.holder(**PAIR) is None  # the renewal re-created nothing
    ok, newer = await lock.acquire_within(**PAIR, holder=holder("b"), ttl_ms=1000, wait_s=10)
    assert ok
    assert time.monotonic() - renewed >= 1.0 + STOP_MARGIN_MS / 1000 - 0.1
    assert newer.fencing_token > running.fencing_token
    # A lock released as it should be is free at once.
    assert await lock.release(**PAIR, token=newer.fencing_token)
    ok, _ = await lock.acquire(**PAIR, holder=holder("c"), ttl_ms=1000)
    assert ok


async def test_a_grant_made_as_the_data_vanishes_is_given_back(
    redis: Redis, key_prefix: str
) -> None:
    """The mark read, then the data lost (here: the mark alone, so the lock script itself
    still finds an old enough mark) before the grant: the grant is given back before
    anything could run, and this and every other process wait a lease."""
    keys = Keys(key_prefix)
    guard = DataLossGuard(redis=redis, keys=keys, lock_ttl_ms=TTL_MS, new_id=lambda: "g1")
    lock = EnvLock(redis=redis, keys=keys, guard=guard)
    await guard.look()
    await redis.delete(keys.intact())
    ok, got = await lock.acquire(**PAIR, holder=holder("t1"), ttl_ms=TTL_MS)
    assert not ok
    assert got.quiet_until is not None
    assert await lock.holder(**PAIR) is None  # given back
    token, _, released = (await redis.get(keys.fence(**PAIR))).split(b":")
    assert int(token) > 0  # its token stays spent
    assert released == b"1"  # given back: nothing runs under it
    other = EnvLock(
        redis=redis,
        keys=keys,
        guard=DataLossGuard(redis=redis, keys=keys, lock_ttl_ms=TTL_MS, new_id=lambda: "g2"),
    )
    ok, got = await other.acquire(**PAIR, holder=holder("t2"), ttl_ms=TTL_MS)
    assert not ok
    assert got.quiet_until is not None
    assert guard.losses == 1


class Switch:
    """A keep-alive the test turns off, as the deploy watch does when the lock is lost."""

    def __init__(self) -> None:
        self.on = True

    def fresh(self) -> bool:
        return self.on


@pytest.mark.parametrize("lost", [True, False], ids=["lock-lost", "control-lock-kept"])
async def test_a_command_under_a_lost_lock_is_killed_a_second_after_its_worker_falls_silent(
    tmp_path: Path, lost: bool
) -> None:
    """The command (and its setsid grandchild) ignores SIGTERM. Lock lost: the watch stops
    the beats and cancels; the supervisor kills the tree about silence_s + 1 s later, not
    after the 4 s grace. Control (a plain cancel, beats going on): the grace is honoured."""
    script(tmp_path, "deploy.sh", HOSTILE_SH.format(end="sleep 60"))
    cfg = config(tmp_path, deploy=DEFAULT_ARGV)
    deployer = CommandDeployer(run_as_root=True, config=cfg, secrets=[], grace_s=4)
    switch = Switch()
    started = asyncio.Event()

    async def on_output(line: str) -> None:
        started.set()

    run = asyncio.create_task(
        deployer.run(
            plan=PLAN,
            idempotency_key="k",
            fencing_token=1,
            on_output=on_output,
            keepalive=switch,
            silence_s=0.4,
        )
    )
    await asyncio.wait_for(started.wait(), timeout=10)
    command, grandchild = pids(tmp_path)
    began = time.monotonic()
    switch.on = not lost
    run.cancel()
    if lost:
        assert await wait_dead(command, within_s=2.5)
        assert await wait_dead(grandchild, within_s=0.5)
    else:
        await asyncio.sleep(2.5)
        assert not await wait_dead(command, within_s=0.1), "killed before its grace period"
        assert await wait_dead(command, within_s=4)
        assert await wait_dead(grandchild, within_s=0.5)
    gone_s = time.monotonic() - began
    with pytest.raises(asyncio.CancelledError):
        await run
    print(f"{'lock lost' if lost else 'control'}: the tree was gone {gone_s:.1f} s after")
