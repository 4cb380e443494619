"""What a turn reads from Redis to make a plan, in one round trip.

A busy pair's plan is made against what the plans ahead of it leave (``Ahead``: the last in
the pair's line, else the deploy running there), read in the same pipeline as the pair's
quarantine: its card says "after v1.1.0 (queued ahead)", and it runs when its turn comes if
live is then what they left (drift only if something else changed live).

``TurnReads`` is the turn's memo (``bot.shell.world.lookups.TurnMemo``: tags, recent deploys,
messages already published) plus what a plan is made against beside them: each
environment's person lock (``lock production <reason>``) and each pair's quarantine
entries. ``TurnReader.fetch`` fills it with one pipeline: each service's cached tags, each
pair's recent deploys and quarantine entries, each environment's person lock, leaving out
what the memo holds already. So the prefetch reads everything a plan for any of its pairs
needs, and a plan made later in the same turn asks Redis nothing; without a prefetch, the
plan's own reads take two round trips (``for_plan``: the person's lock is read last).

Failures: a service whose tags are not cached is read from the repository
(``Lookups.fresh_tags``, which caches them), and the locks and quarantines are read again
after it (one more round trip: the plan is made against them as they are after the slow
read); when the repository fails, the ``ToolFailed`` is kept in
the memo (``TurnMemo.tags_of`` raises it where a plan needs the tags). A Redis error
raises, as any read of the turn does (the entry is retried). What a deploy changes (a pair's
history and quarantine, an environment's lock) is forgotten with ``forget``, so a plan made
after it in the same turn reads them again. A person's lock read here may be seconds old
by the time the plan is made; the deploy reads it again under the pair's lock.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from redis.asyncio.client import Pipeline

from bot.core.errors import ToolFailed
from bot.core.policy.supersession import StartedDeploy
from bot.core.thread.plan import DeployRecord, Quarantined
from bot.shell.lock.holder import LockHolder, holder_of
from bot.shell.store.keys import text
from bot.shell.world.context import Context
from bot.shell.world.history import records
from bot.shell.world.lookups import DEPLOYS_SHOWN, Lookups, TurnMemo, cached_tags
from bot.shell.world.quarantine import entries
from bot.shell.world.queue import QueuedPlan

__all__ = ["Ahead", "TurnReader", "TurnReads", "ahead_of", "forget"]


@dataclass(frozen=True, kw_only=True)
class Ahead:
    """What a plan for a busy pair is made against: the last plan waiting in its line
    (``queued``), else the deploy running there (``running``): what live will be when the
    new plan's turn comes."""

    version: str
    sha: str
    requester: str
    kind: Literal["queued", "running"]


class TurnReads(TurnMemo):
    """A turn's memo, with the person locks, quarantine entries and plans ahead (the pair's
    line, or its running deploy) a plan is made against."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen: dict[str, LockHolder | None] = {}  # environment -> a person's lock
        self.quarantined: dict[tuple[str, str], Mapping[str, Quarantined]] = {}
        self.ahead: dict[tuple[str, str], Ahead | None] = {}


def forget(memo: TurnMemo, *, service: str, environment: str) -> None:
    """A deploy of the pair ran (or was refused under its lock): what the memo read of it
    is read again by the next step that needs it."""
    memo.history.pop((service, environment), None)
    if isinstance(memo, TurnReads):
        memo.quarantined.pop((service, environment), None)
        memo.ahead.pop((service, environment), None)
        memo.frozen.pop(environment, None)


class TurnReader:
    def __init__(self, *, context: Context, lookups: Lookups) -> None:
        self._store = context.store
        self._keys = context.keys
        self._history = context.history
        self._quarantine = context.quarantine
        self._env_lock = context.env_lock
        self._lookups = lookups

    async def for_plan(self, memo: TurnReads, *, service: str, environment: str) -> None:
        """What a plan for the pair is made against: from the turn's prefetch when it had
        one; else its tags, history and quarantine in one round trip, and then the person's
        lock on the environment alone, read last (a plan is made against the lock as it is
        after the other reads: an ``unlock`` handled meanwhile counts)."""
        locked = environment in memo.frozen
        await self.fetch(memo, services=[service], pairs=[(service, environment)], locks=locked)
        if not locked:
            memo.frozen[environment] = await self._env_lock.frozen(environment=environment)

    async def fetch(
        self,
        memo: TurnReads,
        *,
        services: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        locks: bool = True,
    ) -> None:
        """Fill ``memo`` for ``services`` and ``pairs`` in one round trip (plus the
        repository for a service whose tags are not cached). ``locks``: the person's locks
        on the pairs' environments too."""
        services = [s for s in dict.fromkeys(services) if s not in memo.tags]
        histories = [p for p in dict.fromkeys(pairs) if p not in memo.history]
        banned = [p for p in dict.fromkeys(pairs) if p not in memo.quarantined]
        environments = [
            e for e in dict.fromkeys(e for _, e in pairs) if locks and e not in memo.frozen
        ]
        if not (services or histories or banned or environments):
            return
        pipe = self._store.pipeline()
        for service in services:
            pipe.get(self._keys.tags_cache(service))
        for service, environment in histories:
            self._history.recent_in(
                pipe, service=service, environment=environment, limit=DEPLOYS_SHOWN
            )
        self._queue_state(pipe, banned, environments)
        replies = iter(await pipe.execute())
        cached = [next(replies) for _ in services]
        for pair in histories:
            memo.history[pair] = records(next(replies))
        self._take_state(memo, replies, banned, environments)
        missed = False
        for service, raw in zip(services, cached, strict=True):
            if raw:
                memo.tags[service] = cached_tags(raw)
                continue
            missed = True
            try:  # the cache was just read above: straight to the repository
                memo.tags[service] = await self._lookups.fresh_tags(service)
            except ToolFailed as exc:
                memo.tags[service] = exc
        if missed and (banned or environments):
            # The repository took its time: the locks and quarantines are read again after
            # it, so a plan is made against them as they are now.
            pipe = self._store.pipeline()
            self._queue_state(pipe, banned, environments)
            self._take_state(memo, iter(await pipe.execute()), banned, environments)

    def _queue_state(
        self, pipe: "Pipeline", banned: list[tuple[str, str]], environments: list[str]
    ) -> None:
        for service, environment in banned:
            self._quarantine.of_in(pipe, service=service, environment=environment)
            pipe.zrange(self._keys.queue(service, environment), -1, -1)
            pipe.hgetall(self._keys.queue_plans(service, environment))
            pipe.get(self._keys.env_lock(service, environment))
            pipe.get(self._keys.newest_started(service, environment))
        for environment in environments:
            self._env_lock.frozen_in(pipe, environment=environment)

    @staticmethod
    def _take_state(
        memo: TurnReads,
        replies: Iterator[Any],
        banned: list[tuple[str, str]],
        environments: list[str],
    ) -> None:
        for pair in banned:
            memo.quarantined[pair] = entries(next(replies))
            last, plans, lock, started = (next(replies) for _ in range(4))
            memo.ahead[pair] = _ahead(last, plans, lock, started)
        for environment in environments:
            memo.frozen[environment] = holder_of(next(replies))


def _ahead(last: Any, plans: Any, lock: Any, started: Any) -> Ahead | None:
    """The last plan in the pair's line, else the deploy running there (its lock held by a
    deploy, not kept after an interruption, and the newest started known with its commit)."""
    if last:
        raw = {text(k): v for k, v in plans.items()}.get(text(last[0]))
        try:
            waiting = QueuedPlan.model_validate_json(raw) if raw else None
        except ValueError:
            waiting = None
        if waiting is not None:
            return Ahead(
                version=waiting.version,
                sha=waiting.sha,
                requester=waiting.requester,
                kind="queued",
            )
    holder = holder_of(lock)
    if holder is None or holder.interrupted or not started:
        return None
    try:
        newest = StartedDeploy.model_validate_json(started)
    except ValueError:
        return None
    if newest.sha is None or newest.kind != "deploy":
        return None
    return Ahead(version=newest.version, sha=newest.sha, requester=newest.requester, kind="running")


def ahead_of(history: list[DeployRecord], ahead: Ahead, *, now: datetime) -> list[DeployRecord]:
    """The pair's history as a plan made behind ``ahead`` sees it: what they leave, live."""
    if history and history[0].sha == ahead.sha and history[0].result == "succeeded":
        return history  # what they leave is live already
    left = DeployRecord(
        thread_id=f"({ahead.kind} ahead)",
        kind="deploy",
        version=ahead.version,
        sha=ahead.sha,
        requester=ahead.requester,
        result="succeeded",
        at=now.isoformat(),
    )
    return [left, *history]
