"""Requests waiting for approval, per service and environment, across threads.

When a plan runs, every other request for the same pair was made against a world that is
about to change (its "now" version will be wrong). ``PendingApprovals`` remembers which
threads have a request open for a pair and, when a plan for that pair starts, sends each of
them a ``plan_superseded`` event through the inbound stream, so a worker holding that
thread's lease closes the request in every channel it was posted to.

An entry that outlived its request (decided, expired) is harmless: the thread's reducer
ignores a ``plan_superseded`` for a plan that is no longer open.
"""

from collections.abc import Sequence
from datetime import datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.thread.events import ApprovalRequested, Event, PlanSuperseded
from bot.core.thread.plan import Plan
from bot.core.wording.deploys import superseded_by_text
from bot.shell.store.keys import Keys, text
from bot.shell.streams.inbound import Envelope, InboundQueue

__all__ = ["PendingApprovals"]


class PendingApprovals:
    def __init__(self, *, redis: "Redis", keys: Keys, queue: InboundQueue) -> None:
        self._redis = redis
        self._keys = keys
        self._queue = queue

    def add_in(
        self,
        pipe: "Pipeline",
        *,
        thread_id: str,
        events: Sequence[Event],
        plans: dict[str, Plan],
    ) -> None:
        """Remember the requests among ``events`` (just saved), on the caller's pipeline."""
        for event in events:
            if isinstance(event, ApprovalRequested) and event.plan_hash in plans:
                plan = plans[event.plan_hash]
                key = self._keys.pending_approvals(plan.service, plan.environment)
                pipe.hset(key, thread_id, event.plan_hash)

    async def supersede(self, *, thread_id: str, plan: Plan, at: datetime) -> int:
        """``plan`` (in ``thread_id``) has started: tell every other waiting request for its
        service and environment. Returns how many threads were told."""
        key = self._keys.pending_approvals(plan.service, plan.environment)
        waiting = {text(k): text(v) for k, v in (await self._redis.hgetall(key)).items()}
        by = superseded_by_text(plan, thread_id=thread_id)
        told = 0
        for other, plan_hash in waiting.items():
            if other == thread_id:
                continue
            event = PlanSuperseded(
                # The same supersession always has the same id: a retry is recognised.
                id=f"superseded-{plan_hash}-{plan.plan_hash}",
                at=at,
                plan_hash=plan_hash,
                by=by,
            )
            await self._queue.publish(Envelope(thread_id=other, event=event))
            told += 1
        if waiting:
            await self._redis.hdel(key, *waiting)
        return told
