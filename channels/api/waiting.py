"""A queued thread's wait, as ``GET /v1/threads/{id}`` shows it (``queue``). Pure.

A thread is ``queued`` while release policy holds its deploy: waiting in the pair's line
(``deploy_queued``, moved up by ``queue_moved``) or waiting to be planned again
(``release_awaited``: ``when ready`` before the soak allows it, or a plan a freeze stopped).
Which wait is current is the thread's own answer (``Thread.waiting``, what the loop acts on), so
the API never shows a wait the worker would not act on. ``plan_hash`` is what a client
names in ``{"type": "cancel", "plan_hash": ...}``.
"""

from datetime import datetime
from typing import assert_never

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.events import DeployQueued, QueueMoved, ReleaseAwaited
from bot.core.thread.thread import Thread

__all__ = ["QueueView", "queue_view"]


class QueueView(BaseModel):
    """Where a queued thread's deploy stands."""

    model_config = ConfigDict(frozen=True)

    plan_hash: str | None = Field(
        description="The plan waiting in the pair's line (the one a cancel may name); null "
        "while the deploy waits to be planned (soak, freeze)."
    )
    position: int | None = Field(
        description="Its place in line: 1 runs next (the running deploy is not counted); "
        "null when it is not in a line."
    )
    behind: str | None = Field(description="The plan just ahead of it in line, if any.")
    retry_at: datetime | None = Field(
        description="When it is planned again (the soak is over, the freeze ends); null "
        "when it waits in line."
    )
    reason: str | None = Field(description="Why it waits to be planned, as the thread says.")


def queue_view(thread: Thread) -> QueueView | None:
    """The wait of a ``queued`` thread; None for any other status."""
    if thread.status != "queued":
        return None
    wait = thread.waiting()
    match wait:
        case None:
            return None
        case ReleaseAwaited(reason=reason, retry_at=retry_at):
            return QueueView(
                plan_hash=None, position=None, behind=None, retry_at=retry_at, reason=reason
            )
        case DeployQueued(plan_hash=plan_hash, position=position, behind=behind):
            after = thread.events[thread.events.index(wait) + 1 :]
            for event in after:  # the pump's news of this plan, oldest first
                if isinstance(event, QueueMoved) and event.plan_hash == plan_hash:
                    position, behind = event.position, event.behind
            return QueueView(
                plan_hash=plan_hash, position=position, behind=behind, retry_at=None, reason=None
            )
        case _:
            assert_never(wait)
