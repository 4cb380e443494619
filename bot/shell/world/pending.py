"""Requests waiting for approval, per service and environment, across threads.

When a plan runs, every other request for the same pair was made against a world that is
about to change (its "now" version will be wrong). ``PendingApprovals`` remembers which
threads have a request open for a pair and, when a plan for that pair starts, sends each of
them a ``plan_superseded`` event through the inbound stream, so a worker holding that
thread's lease closes the request in every channel it was posted to.

An entry that outlived its request (decided, expired) is harmless: the thread's reducer
ignores a ``plan_superseded`` for a plan that is no longer open.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from redis.asyncio.client import Pipeline

from bot.core.thread.events import ApprovalRequested, Event, PlanSuperseded
from bot.core.thread.plan import Plan
from bot.core.wording.deploys import superseded_by_text
from bot.shell.store.keys import Keys, text
from bot.shell.streams.inbound import Envelope, InboundQueue

__all__ = ["PendingApprovals", "waiting_of"]


class PendingApprovals:
    def __init__(self, *, keys: Keys, queue: InboundQueue) -> None:
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

    def waiting_in(self, pipe: "Pipeline", *, service: str, environment: str) -> None:
        """Queue the read of the pair's waiting requests (``waiting_of`` reads its reply)."""
        pipe.hgetall(self._keys.pending_approvals(service, environment))

    def supersede_in(
        self,
        pipe: "Pipeline",
        *,
        thread_id: str,
        plan: Plan,
        at: datetime,
        waiting: Mapping[str, str],
    ) -> int:
        """``plan`` (in ``thread_id``) has started: tell every other request ``waiting`` for
        its service and environment (as read before, ``waiting_in``), the writes queued on
        the caller's pipeline; how many threads are told. A request added after that read is
        neither told nor forgotten here: it was made when ``plan`` had started already."""
        key = self._keys.pending_approvals(plan.service, plan.environment)
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
            self._queue.publish_in(pipe, Envelope(thread_id=other, event=event))
            told += 1
        if waiting:
            pipe.hdel(key, *waiting)
        return told


def waiting_of(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """A pair's waiting requests (thread id -> plan hash) as ``HGETALL`` returns them."""
    return {text(k): text(v) for k, v in raw.items()}
