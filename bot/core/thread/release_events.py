"""The events of release policy (invariant 9): a deploy waiting until policy allows it, and the
per-pair queue (joined, moved up, its turn, left). Part of the ``Event`` union
(``bot.core.thread.events``), which re-exports them.

A thread whose newest such event is ``release_awaited`` or ``deploy_queued`` is ``queued``
(``bot.core.thread.thread.derive_status``)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from bot.core.thread.event_base import EventBase
from bot.core.thread.intents import Deploy
from bot.core.thread.text.actor import Actor
from bot.core.thread.text.outside import Line, Text

__all__ = [
    "DeployQueued",
    "QueueLeft",
    "QueueMoved",
    "QueueTurn",
    "ReleaseAwaited",
]


class ReleaseAwaited(EventBase):
    """``intent`` is planned again at ``retry_at``: ``deploy ... when ready`` before soak
    allows it, or an approved plan that a freeze stopped (``reason`` says which, and until
    when). A durable ``ready`` timer, named by this event's id, brings the thread back."""

    type: Literal["release_awaited"] = "release_awaited"
    intent: Deploy
    requester: str
    reason: Text
    retry_at: datetime
    # The approved plan a freeze stopped at its run (None: "when ready"): planned again as
    # a new attempt, so no decision about it counts for the new one.
    held: str | None = Field(default=None, exclude_if=lambda v: v is None)


class DeployQueued(EventBase):
    """``plan_hash`` found its pair held and waits in the pair's queue at ``position`` (1:
    next to run; the running deploy is not counted), ``behind`` the plan just ahead of it."""

    type: Literal["deploy_queued"] = "deploy_queued"
    plan_hash: str
    position: int
    behind: Line | None = None


class QueueMoved(EventBase):
    """The queue's pump saw the plan move up (from the pump, through the inbound stream)."""

    type: Literal["queue_moved"] = "queue_moved"
    plan_hash: str
    position: int
    behind: Line | None = None


class QueueTurn(EventBase):
    """The pair is free and the plan is first in line: it runs now, re-checked under the lock
    (from the pump, through the inbound stream)."""

    type: Literal["queue_turn"] = "queue_turn"
    plan_hash: str


class QueueLeft(EventBase):
    """A wait ended without running: ``cancelled`` by ``actor`` (the thread's current wait),
    or ``superseded`` by a newer plan or request for the same version (``by``). It names the
    wait it ends: ``plan_hash`` (a plan in the pair's line) or ``awaited`` (the id of a
    ``release_awaited``); a superseding that names another wait than the current one (the
    thread moved on) ends nothing."""

    type: Literal["queue_left"] = "queue_left"
    plan_hash: str | None
    why: Literal["cancelled", "superseded"]
    actor: Actor | None = None
    by: Line | None = None
    awaited: str | None = Field(default=None, exclude_if=lambda v: v is None)

    def ends(self, wait: "ReleaseAwaited | DeployQueued") -> bool:
        """Whether this ends ``wait`` (the thread's current one)."""
        if self.why == "cancelled":
            return True
        if isinstance(wait, DeployQueued):
            return self.plan_hash == wait.plan_hash
        return self.awaited == wait.id
