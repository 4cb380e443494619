"""What a deploy reads under its pair's lock, in the grant's own round trip.

The reads are queued on the grant's pipeline (``bot.shell.lock.lease.EnvLock.grant``) right
behind the grant script and the intact mark, so on a grant they see the state under the
lock: the person's lock on the environment (a lock taken after the plan was made still
stops it: the grant is given back at once), the pair's history (``HISTORY_SEARCHED``
records: the search for an earlier run of the key, and its first ``RECHECK_DEPLOYS`` the
live state the re-check compares), its quarantine entries, the requests waiting for it
(superseded once the deploy has started) and the cached tags. A try that is not granted
reads them too (only the person's lock counts then: it stops the wait).

The repository's tags are read at the same time, not after (issue 18: one read of the
repository per re-check, concurrently with Redis): ``LiveCheck.repo_tags`` reads git without
writing the tags cache; the deploy writes what it found on a pipeline it sends anyway, and
only when it differs from what was cached and a cached value is still there
(``bot.shell.world.lookups.cache_tags_in``: ``SET XX KEEPTTL``, the cache keeps the lifetime it
was given there and is never created here). A repository that cannot be read is the re-check's
``tags_error``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio.client import Pipeline

from bot.core.thread.plan import DeployRecord, Plan, Quarantined
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import frozen_not_run_text, lock_for_text
from bot.core.wording.messages import quiet_text
from bot.shell.deploy.prior_runs import HISTORY_SEARCHED
from bot.shell.lock.holder import LockHolder, holder_of
from bot.shell.store.keys import text
from bot.shell.world.context import Context
from bot.shell.world.environments import frozen_refusal
from bot.shell.world.history import records
from bot.shell.world.pending import waiting_of
from bot.shell.world.quarantine import entries

__all__ = ["RECHECK_DEPLOYS", "Busy", "LockedReads", "Seen", "Taken", "frozen_text"]

#: The recent deploys the re-check reads the live state from.
RECHECK_DEPLOYS = 5
_READS = 6  # commands ``queue`` adds


@dataclass(frozen=True, kw_only=True)
class Seen:
    """The pair's state as read with (or right after) the grant."""

    frozen: LockHolder | None  # a person's lock on the environment
    history: list[DeployRecord]  # newest first, up to HISTORY_SEARCHED
    quarantined: Mapping[str, Quarantined]
    waiting: Mapping[str, str]  # requests waiting for the pair: thread id -> plan hash
    cached_tags: bytes | None  # the tags cache as it was (None: not cached)
    head: str | None = None  # the thread first in the pair's queue (bot/shell/world/queue.py)

    @property
    def recent(self) -> list[DeployRecord]:
        """What the re-check reads the live state from."""
        return self.history[:RECHECK_DEPLOYS]


@dataclass(frozen=True, kw_only=True)
class Busy:
    """The pair is held by ``holder`` (None: free, but others wait in line first)."""

    holder: LockHolder | None


@dataclass(frozen=True, kw_only=True)
class Taken:
    """The lock, granted: its token, the pair as read with the grant, and whether it took
    more than one try (what was read before the first one is then old)."""

    token: int
    seen: Seen
    waited: bool


def frozen_text(plan: Plan, person: LockHolder | None) -> str | None:
    """Why ``plan`` does not run while ``person`` locks its environment (None: it may)."""
    refusal = frozen_refusal(environment=plan.environment, holder=person, requester=plan.requester)
    return None if refusal is None else frozen_not_run_text(plan, refusal=refusal)


class LockedReads:
    def __init__(self, *, context: Context) -> None:
        self._clock = context.clock.now
        self._lock_ttl_ms = context.limits.lock_ttl_ms
        self._lock_wait_s = context.limits.lock_wait_s
        self._keys = context.keys
        self._env_lock = context.env_lock
        self._history = context.history
        self._quarantine = context.quarantine
        self._pending = context.pending

    async def take(self, thread: Thread, plan: Plan) -> "Taken | Busy | str":
        """Take the pair's lock with the reads. ``Busy``: another deploy holds it (or one
        interrupted, held for a person), or a plan waits in the pair's queue ahead of this
        one (the grant is given back): the plan joins the queue (bot/shell/world/queue.py).
        Why not otherwise (a person's lock on the environment, or the quiet period after a
        data loss, waited through for a bounded time first) as the thread's words."""
        holder = LockHolder(
            thread_id=thread.id, who=plan.requester, why=lock_for_text(plan), since=self._clock()
        )
        got = await self._env_lock.grant(
            service=plan.service,
            environment=plan.environment,
            holder=holder,
            ttl_ms=self._lock_ttl_ms,
            reads=lambda pipe: self.queue(pipe, plan),
        )
        if not got.ok and got.holder.quiet_until is not None:  # Redis lost its data
            got = await self._env_lock.grant_within(
                service=plan.service,
                environment=plan.environment,
                holder=holder,
                ttl_ms=self._lock_ttl_ms,
                wait_s=self._lock_wait_s,
                reads=lambda pipe: self.queue(pipe, plan),
                stop=lambda replies: frozen_text(plan, self.frozen(replies)) is not None,
            )
        current = got.holder
        if got.ok and got.replies is not None:
            seen = self.seen(got.replies)
            if seen.head is not None and seen.head != thread.id and seen.frozen is None:
                await self._env_lock.release(
                    service=plan.service,
                    environment=plan.environment,
                    token=current.fencing_token,
                )
                return Busy(holder=None)
            return Taken(token=current.fencing_token, seen=seen, waited=got.tries > 1)
        person = (
            self.frozen(got.replies)
            if got.replies is not None
            else await self._env_lock.frozen(environment=plan.environment)
        )
        if (refusal := frozen_text(plan, person)) is not None:
            return refusal
        if (until := current.quiet_until) is not None:  # Redis lost its data: dataloss.py
            return quiet_text(plan, until=until)
        return Busy(holder=current)

    def queue(self, pipe: "Pipeline", plan: Plan) -> None:
        """Queue the reads (``seen`` reads their replies)."""
        service, environment = plan.service, plan.environment
        self._env_lock.frozen_in(pipe, environment=environment)
        self._history.recent_in(
            pipe, service=service, environment=environment, limit=HISTORY_SEARCHED
        )
        self._quarantine.of_in(pipe, service=service, environment=environment)
        self._pending.waiting_in(pipe, service=service, environment=environment)
        pipe.get(self._keys.tags_cache(service))
        pipe.zrange(self._keys.queue(service, environment), 0, 0)

    @staticmethod
    def frozen(replies: list[Any]) -> LockHolder | None:
        """Only the person's lock, from a try's replies (it decides whether to wait on)."""
        return holder_of(replies[0])

    @staticmethod
    def seen(replies: list[Any]) -> Seen:
        frozen, history, banned, waiting, cached, head = replies[:_READS]
        return Seen(
            frozen=holder_of(frozen),
            history=records(history),
            quarantined=entries(banned),
            waiting=waiting_of(waiting),
            cached_tags=cached or None,
            head=text(head[0]) if head else None,
        )
