"""Durable timers: approval reminders, escalations, expiries and verifications, even across
restarts. Which timers and when: ``bot.core.policy.timers``.

A timer is a member of one sorted set (``deploybot:timers``) scored by when it is due.
Scheduling happens in the same pipeline that acknowledges the turn that asked for it; a pump
(in every worker, ``deploybot clock`` and ``deploybot run``) publishes due timers to the
inbound stream as ``timer_fired`` events with deterministic ids, then removes them. Two pumps
may publish the same timer; the worker drops the second copy like any redelivered event.
"""

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.config.config import Config
from bot.core.policy.timers import timer_changes
from bot.core.thread.events import Event, TimerFired
from bot.core.thread.plan import Plan
from bot.shell.runtime.tasks import TaskHandle
from bot.shell.store.keys import Keys, text
from bot.shell.store.redis_faults import TRANSIENT, pause
from bot.shell.streams.inbound import Envelope, InboundQueue
from bot.shell.world.queue import PairQueue

__all__ = ["Timers"]

log = logging.getLogger("deploybot.timers")


class Timers:
    """``line`` and ``config``: the per-pair queues pumped with the timers (their news and
    turns are published like timers: bot/shell/world/queue.py)."""

    def __init__(
        self,
        *,
        redis: "Redis",
        keys: Keys,
        queue: InboundQueue,
        line: PairQueue | None = None,
        config: Config | None = None,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._queue = queue
        self._line = line
        self._config = config

    def schedule_for_in(
        self,
        pipe: "Pipeline",
        *,
        thread_id: str,
        events: list[Event],
        config: Config,
        plans: Mapping[str, Plan],
        now: datetime,
    ) -> None:
        """Queue (or cancel) the timers that new events need, as ``bot.core.policy.timers``
        decides, on the caller's pipeline. ``plans``: the thread's plans by hash."""
        for kind, plan_hash, at in timer_changes(events, config=config, plans=plans, now=now):
            member = _member(thread_id, kind, plan_hash)
            if at is None:
                pipe.zrem(self._keys.timers(), member)
            else:
                pipe.zadd(self._keys.timers(), {member: at.timestamp()})

    async def fire_due(self, *, now: datetime, limit: int = 100) -> int:
        """Publish every timer due by ``now``, and the queues' news; returns how many."""
        told = 0
        if self._line is not None and self._config is not None:
            told = await self._line.pump(config=self._config, now=now)
        return told + await self._fire(now=now, limit=limit)

    async def _fire(self, *, now: datetime, limit: int) -> int:
        due = await self._redis.zrangebyscore(
            self._keys.timers(), "-inf", now.timestamp(), start=0, num=limit, withscores=True
        )
        for raw, score in cast(list[tuple[bytes, float]], due):
            member = text(raw)
            thread_id, kind, plan_hash = member.split("|")  # see _member
            event = TimerFired.model_validate(
                {
                    "id": f"timer-{kind}-{plan_hash}",
                    "at": datetime.fromtimestamp(float(score), UTC),
                    "kind": kind,
                    "plan_hash": plan_hash,
                }
            )
            await self._queue.publish(Envelope(thread_id=thread_id, event=event))
            await self._redis.zrem(self._keys.timers(), member)
        return len(due)

    async def pending(self) -> int:
        return int(await self._redis.zcard(self._keys.timers()))

    async def waiting_approvals(self) -> int:
        """Approval requests whose expiry has not come (each has one expire timer)."""
        members = await self._redis.zrange(self._keys.timers(), 0, -1)
        return sum(1 for m in members if "|expire|" in text(m))

    async def run(
        self,
        *,
        clock: Callable[[], datetime],
        stop: asyncio.Event,
        interval_s: float = 1.0,
        health: TaskHandle | None = None,
    ) -> None:
        """Fire due timers every ``interval_s`` until ``stop``. Redis away is ridden out;
        any other failure raises, for the task registry to record."""
        health = health or TaskHandle("timers")
        while not stop.is_set():
            try:
                await self.fire_due(now=clock())
            except TRANSIENT as exc:
                health.recovering(f"redis unavailable ({type(exc).__name__}: {exc})")
            else:
                health.recovered()
            await pause(stop, interval_s)


def _member(thread_id: str, kind: str, plan_hash: str) -> str:
    return f"{thread_id}|{kind}|{plan_hash}"
