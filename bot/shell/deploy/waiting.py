"""A plan that found its pair held joins the pair's queue (bot/shell/world/queue.py), and the
thread says so: its place, who is just ahead (the running deploy, for the first in line),
and that it runs when its turn comes. A thread told its place before is not told it again
(a turn that found the pair taken once more keeps its place silently); a full queue is a
refusal with the reason; threads whose plan for the same commit this one replaced are told
they were superseded.

The queue's bound is the environment's ``queue_max``; positions count the waiting plans
(1: next to run).
"""

from collections.abc import Callable
from datetime import datetime

from bot.core.ports.inbound import Envelope
from bot.core.release.queue_words import (
    cancel_sent_text,
    full_text,
    nothing_waiting_text,
    queued_text,
)
from bot.core.thread.events import (
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    Event,
    MessageSent,
    QueueLeft,
    QueueMoved,
    UserMessage,
)
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread
from bot.shell.deploy.under_lock import Busy
from bot.shell.world.context import Context
from bot.shell.world.queue import PairQueue

__all__ = ["WaitingLine", "queued_in"]


def queued_in(thread: Thread, plan: Plan) -> int | None:
    """The place in line the thread was last told for ``plan`` (None: it is not waiting
    with it): from its newest ``deploy_queued`` or ``queue_moved``."""
    for event in reversed(thread.events):
        if isinstance(event, DeployQueued | QueueMoved):
            return event.position if event.plan_hash == plan.plan_hash else None
        if isinstance(event, DeployStarted | QueueLeft):
            return None
    return None


class WaitingLine:
    def __init__(self, *, context: Context, queue: PairQueue) -> None:
        self._config = context.config
        self._clock: Callable[[], datetime] = context.clock.now
        self._new_id = context.clock.new_id
        self._queue = queue
        self._inbound = context.queue

    async def join(self, thread: Thread, plan: Plan, busy: Busy) -> list[Event]:
        env = self._config.environments[plan.environment]
        joined = await self._queue.join(thread.id, plan, queue_max=env.queue_max)
        now = self._clock()
        holder = busy.holder
        running = f"{holder.why} by {holder.who}" if holder is not None else None
        ahead = joined.ahead.describe(plan.service) if joined.ahead is not None else running
        if joined.superseded:
            await self._queue.tell_superseded(
                joined.superseded, by=f"plan #{plan.short_id} ({plan.describe()})", plan=plan,
                now=now,
            )  # fmt: skip
        if joined.position == 0:
            return [
                ErrorRecorded(
                    id=self._new_id(),
                    at=now,
                    kind="locked",
                    message=full_text(plan, waiting=joined.waiting, behind=running),
                )
            ]
        queued = DeployQueued(
            id=self._new_id(),
            at=now,
            plan_hash=plan.plan_hash,
            position=joined.position,
            behind=ahead,
        )
        if queued_in(thread, plan) == joined.position:
            return [queued]  # told already: its place is unchanged
        text = queued_text(plan, position=joined.position, behind=ahead)
        return [queued, MessageSent(id=self._new_id(), at=now, text=text, purpose="info")]

    async def cancel_elsewhere(self, thread: Thread, plan_id: str, actor: Actor) -> Event:
        """``cancel <plan id>`` said in a thread that does not hold it: the same words go to
        the thread whose plan waits under that id (its policy decides there)."""
        found = await self._queue.find(plan_id)
        now = self._clock()
        if found is None or found[2].thread_id == thread.id:
            text = nothing_waiting_text(plan_id)
        else:
            service, environment, waiting = found
            words = UserMessage(id=self._new_id(), at=now, actor=actor, text=f"cancel {plan_id}")
            await self._inbound.publish(Envelope(thread_id=waiting.thread_id, event=words))
            what = f"{waiting.describe(service)} to {environment}"
            text = cancel_sent_text(plan_id, what=what)
        return MessageSent(id=self._new_id(), at=now, text=text, to=actor)
