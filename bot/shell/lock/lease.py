"""One deploy at a time per service and environment: a lease with a fencing token.

The lock is visible: its value says which thread holds it, who asked, why and since when. A
deploy whose worker died before it recorded a result is *interrupted*: its lock is kept
without expiry (``hold_interrupted``) so no other deploy of that pair starts until a person
has looked (``release_interrupted``, through ``unlock <environment>``).

**Fencing tokens never go backwards, not even across data loss** (invariant 4). A token is the
largest of (1) the pair's fence counter plus one (beside the lock), (2) Redis's clock in ms
(``TIME``, in the grant script) and (3) the highest token this process saw for the pair plus
one (in memory). What survives what:

- Intact data: (1) orders the tokens; (2) only raises the floor. A token exceeds Redis's
  clock at its grant only by the grants made in the same millisecond (a handful at most).
- ``FLUSHALL``, a restart (without persistence, or from an older RDB snapshot) or a failover
  to a replica that missed writes lose (1), or part of it, but not the clock. Each replaces
  the intact mark (bot/shell/lock/dataloss.py), so the next grant comes at least a lease after
  the loss and (2) exceeds every token granted before it. Running deploys report back too:
  each renewal and release raises the fence to its token, even when its lock is gone (never
  re-creating it), and (3) covers every pair this process deployed. With
  ``DEPLOYBOT_REDIS_REPLICAS`` a command runs only once its start reached the replicas
  (``WAIT``; replication is ordered), so a promoted replica's (1) covers it as well.
- Clocks: only Redis's clock is used, so skew between workers does not matter; a primary and
  its replica differ by their NTP offset, far less than a lease. Redis's clock jumping back
  by J keeps tokens ordered on intact data (1), and across a loss while J is shorter than
  the quiet period; (3) orders this process's pairs whatever J is. A jump forward only makes
  tokens larger; it would shorten a quiet period measured on Redis's clock, so a process that
  saw the loss also counts it on its own monotonic clock.

**No two commands after a loss.** The renewal never re-creates a lock it lost, and a deploy
whose renewal fails stops its command at once: its worker stops the keep-alive beats to the
supervisor, which kills the command's tree a quarter lease later, and SIGTERMs it meanwhile
(bot/shell/deploy/watch.py, bot/shell/process/supervisor.py). A lease renewed last at ``r`` has its
command gone by ``r + ttl/3 + ttl/4 + 1 s`` (Redis reachable), ``r + 3 ttl/4 + 1 s`` (Redis
away, or the worker stopped) or 1 s after its worker died. Grants resume no earlier than
``ttl + 2 s`` after the new mark was made (after the loss, so after ``r``), checked in the
grant script, with the run id of the server (a restart just before the grant). A grant made
while the data was being lost (the mark read right after it differs) is given back at once.
A lock that vanishes alone (deleted by hand, evicted) is noticed by the pair's lease record
beside it (bot/shell/lock/scripts.py): no grant until its lease would have ended, plus 2 s.

**A stale holder can never release or extend a newer holder's lock**: renewal and release
compare the holder's token (unique per pair, as tokens only grow), and leave an interrupted
hold alone (it is nobody's lease; only a person releases it).
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.wording.environments import quiet_lock_why
from bot.shell.lock import scripts as lockscripts
from bot.shell.lock.dataloss import STOP_MARGIN_MS, DataLossGuard
from bot.shell.lock.holder import Grant, LockHolder, holder_of
from bot.shell.store.keys import Keys, queue_script

__all__ = ["EnvLock"]


def _fenced_by(guard: DataLossGuard | None) -> tuple[int, str, int]:
    """The grant script's not-before time, run id and stop margin, from ``guard``."""
    if guard is None or (known := guard.known) is None:
        return 0, "*", STOP_MARGIN_MS
    return guard.not_before_ms(), known.run_id, STOP_MARGIN_MS


class EnvLock:
    def __init__(self, *, redis: "Redis", keys: Keys, guard: DataLossGuard | None) -> None:
        """``guard``: the quiet period after a loss; None only for a store that cannot lose
        its data while this process lives (the embedded one)."""
        self._redis = redis
        self._keys = keys
        self._guard = guard
        self._seen: dict[tuple[str, str], int] = {}  # highest token seen per pair
        self._acquire = redis.register_script(lockscripts.ACQUIRE)
        self._renew = redis.register_script(lockscripts.RENEW)
        self._release = redis.register_script(lockscripts.RELEASE)
        self._hold_interrupted = redis.register_script(lockscripts.HOLD_INTERRUPTED)
        self._release_interrupted = redis.register_script(lockscripts.RELEASE_INTERRUPTED)

    def _key_pair(self, service: str, environment: str) -> list[str]:
        return [self._keys.env_lock(service, environment), self._keys.fence(service, environment)]

    def _saw(self, service: str, environment: str, token: int) -> None:
        pair = (service, environment)
        self._seen[pair] = max(self._seen.get(pair, 0), token)

    async def acquire(
        self, *, service: str, environment: str, holder: LockHolder, ttl_ms: int
    ) -> tuple[bool, LockHolder]:
        """``grant`` without reads, as a pair: ``(True, holder-with-token)``, ``(False,
        current holder)``, or ``(False, a holder whose quiet_until says when grants resume)``
        after Redis lost its data or the lock vanished before its lease ended."""
        got = await self.grant(
            service=service, environment=environment, holder=holder, ttl_ms=ttl_ms
        )
        return got.ok, got.holder

    async def grant(
        self,
        *,
        service: str,
        environment: str,
        holder: LockHolder,
        ttl_ms: int,
        reads: Callable[["Pipeline"], object] | None = None,
    ) -> "Grant":
        """Try for the lock once (``Grant``: the holder with its token, who holds it, or the
        quiet period after a loss), with ``reads`` queued right behind the grant script and
        the intact mark in the same round trip: on a grant they see the state under the lock.
        Their replies are ``Grant.replies`` (None when nothing was sent: a quiet period)."""
        guard = self._guard
        if guard is not None and guard.known is None:
            await guard.look()
        if guard is not None and guard.quiet_left_s() > 0:
            return Grant(ok=False, holder=self._quiet(holder, guard.until()))
        value = holder.model_copy(update={"fencing_token": 0}).stored()
        floor = self._seen.get((service, environment), 0)
        pipe = self._redis.pipeline(transaction=False)
        queue_script(
            pipe,
            self._acquire,
            keys=self._key_pair(service, environment),
            args=[value, ttl_ms, floor, *_fenced_by(guard)],
        )
        if guard is not None:
            guard.queue_read(pipe)
        if reads is not None:
            reads(pipe)
        (token, stored), *rest = await pipe.execute()
        replies = rest[1:] if guard is not None else rest
        if int(token) == -2 and guard is not None:  # restarted or failed over since
            await guard.look()
            return Grant(ok=False, holder=self._quiet(holder, guard.until()), replies=replies)
        if int(token) == -1:  # after a loss, or a lock that vanished before its lease ended
            until = datetime.fromtimestamp(int(stored) / 1000, UTC)
            return Grant(ok=False, holder=self._quiet(holder, until), replies=replies)
        current = LockHolder.model_validate_json(stored)
        self._saw(service, environment, current.fencing_token)
        if guard is not None and not guard.unchanged(rest[0]):
            if int(token) > 0:  # granted on data being lost: given back before anything runs
                await self.release(service=service, environment=environment, token=int(token))
            return Grant(ok=False, holder=self._quiet(holder, guard.until()), replies=replies)
        return Grant(ok=int(token) > 0, holder=current, replies=replies)

    @staticmethod
    def _quiet(holder: LockHolder, until: datetime) -> LockHolder:
        return LockHolder(
            thread_id="",
            who="deploybot",
            why=quiet_lock_why(),
            since=holder.since,
            quiet_until=until,
        )

    async def acquire_within(
        self, *, service: str, environment: str, holder: LockHolder, ttl_ms: int, wait_s: float
    ) -> tuple[bool, LockHolder]:
        """``grant_within`` without reads, as a pair like ``acquire``."""
        got = await self.grant_within(
            service=service, environment=environment, holder=holder, ttl_ms=ttl_ms, wait_s=wait_s
        )
        return got.ok, got.holder

    async def grant_within(
        self,
        *,
        service: str,
        environment: str,
        holder: LockHolder,
        ttl_ms: int,
        wait_s: float,
        reads: Callable[["Pipeline"], object] | None = None,
        stop: Callable[[list[Any]], bool] | None = None,
    ) -> "Grant":
        """``grant`` (with ``reads`` on each try), waiting up to ``wait_s`` (backing off)
        while another deploy holds it or the quiet period after a loss lasts; not at all for
        a lock held after an interrupted deploy (it waits for a person), nor once ``stop``
        says so of a try's replies. ``Grant.tries`` counts the tries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        pause_s = 0.02
        tries = 0
        while True:
            got = await self.grant(
                service=service, environment=environment, holder=holder, ttl_ms=ttl_ms, reads=reads
            )
            tries += 1
            if (
                got.ok
                or loop.time() >= deadline
                or got.holder.interrupted
                or (stop is not None and got.replies is not None and stop(got.replies))
            ):
                return Grant(ok=got.ok, holder=got.holder, replies=got.replies, tries=tries)
            await asyncio.sleep(pause_s)
            pause_s = min(pause_s * 2, 0.5)

    async def renew(self, *, service: str, environment: str, token: int, ttl_ms: int) -> bool:
        """Extend the lease fenced by ``token``; False if that lease is gone (expired, lost
        with Redis's data, held by another): it is never re-created."""
        self._saw(service, environment, token)
        keys = self._key_pair(service, environment)
        return bool(await self._renew(keys=keys, args=[token, ttl_ms]))

    async def release(self, *, service: str, environment: str, token: int) -> bool:
        self._saw(service, environment, token)
        return bool(await self._release(keys=self._key_pair(service, environment), args=[token]))

    def release_in(self, pipe: "Pipeline", *, service: str, environment: str, token: int) -> None:
        """Queue the release on a pipeline the caller executes."""
        self._saw(service, environment, token)
        queue_script(pipe, self._release, keys=self._key_pair(service, environment), args=[token])

    async def hold_interrupted(
        self, *, service: str, environment: str, token: int, holder: LockHolder
    ) -> bool:
        """Keep the lock of the deploy fenced by ``token`` (or take it back if it expired and
        nobody took it since), without expiry, marked interrupted. False: another deploy
        holds it or held it since (its command cannot be ours: a deploy command dies with
        its worker)."""
        self._saw(service, environment, token)
        value = holder.model_copy(update={"fencing_token": token, "interrupted": True})
        keys = self._key_pair(service, environment)
        return bool(await self._hold_interrupted(keys=keys, args=[token, value.stored()]))

    async def release_interrupted(self, *, service: str, environment: str) -> LockHolder | None:
        """Release an interrupted deploy's lock after a person checked; returns what it was."""
        current = await self.holder(service=service, environment=environment)
        if current is None or not current.interrupted:
            return None
        keys = self._key_pair(service, environment)
        return current if await self._release_interrupted(keys=keys) else None

    async def holders(self, *, services: list[str], environment: str) -> list[LockHolder | None]:
        """Each service's deploy lock in ``environment``, read in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for service in services:
            pipe.get(self._keys.env_lock(service, environment))
        raw = await pipe.execute()
        return [holder_of(r) for r in raw]

    async def holder(self, *, service: str, environment: str) -> LockHolder | None:
        return holder_of(await self._redis.get(self._keys.env_lock(service, environment)))

    # -- a person's lock on a whole environment (no expiry: someone must unlock it) ------

    async def freeze(self, *, environment: str, holder: LockHolder) -> tuple[bool, LockHolder]:
        """``(True, holder)``, or ``(False, who holds it already)``."""
        key = self._keys.freeze(environment)
        if await self._redis.set(key, holder.stored(), nx=True):
            return True, holder
        current = await self.frozen(environment=environment)
        return (
            (False, current)
            if current
            else await self.freeze(environment=environment, holder=holder)
        )

    async def unfreeze(self, *, environment: str) -> LockHolder | None:
        """Remove the lock; returns who held it (None if nobody did)."""
        return holder_of(await self._redis.getdel(self._keys.freeze(environment)))

    async def frozen(self, *, environment: str) -> LockHolder | None:
        return holder_of(await self._redis.get(self._keys.freeze(environment)))

    def frozen_in(self, pipe: "Pipeline", *, environment: str) -> None:
        """Queue the read of a person's lock on ``environment`` (``holder_of`` its reply)."""
        pipe.get(self._keys.freeze(environment))

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
        held = [holder_of(r) for r in raw]
        return list(zip(held[0::2], held[1::2], strict=True))
