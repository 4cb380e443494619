"""The steps ``next_step`` returns, and what every branch of the loop needs to make them.

A step that needs no I/O carries the events to append (``Apply``); the others name the I/O
for the shell (``bot.shell.loop.turn``) to do. ``Ctx`` holds the config, the time and the id source.
"""

from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.policy.approval_posts import closing_messages, reply_route
from bot.core.thread.events import (
    DeployStarted,
    ErrorKind,
    ErrorRecorded,
    Event,
    MessageSent,
    Purpose,
)
from bot.core.thread.intents import Deploy, ListDeploys, ListTags, Rollback
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread

__all__ = [
    "Apply",
    "CancelElsewhere",
    "Ctx",
    "Decide",
    "Describe",
    "Execute",
    "LeaveQueue",
    "LockEnvironment",
    "Lookup",
    "Pause",
    "Prefetch",
    "Recover",
    "Release",
    "ResolvePlan",
    "Step",
    "UnlockEnvironment",
    "Verify",
]


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True)


class Apply(_Step):
    """Append these events (no I/O needed), then ask again."""

    events: list[Event]


class Decide(_Step):
    """Ask the thread's agent for the next intent."""


class Prefetch(_Step):
    """Record the likely context (tags, recent deploys) before the model reads the thread."""

    services: list[str]


class Lookup(_Step):
    intent: ListTags | ListDeploys


class ResolvePlan(_Step):
    """Turn a deploy/rollback intent into an exact plan (tag -> sha, current version)."""

    intent: Deploy | Rollback
    requester: str


class Execute(_Step):
    plan: Plan


class Recover(_Step):
    """A deploy was started and its worker stopped before recording a result: find out what
    happened where the target can say (the service's status command), else record it as
    interrupted and keep its environment held until a person has looked."""

    started: DeployStarted
    plan: Plan


class LeaveQueue(_Step):
    """Take ``plan`` out of its pair's queue (``bot.shell.world.queue``), then append
    ``events`` (a cancel said; nothing, for a stale turn)."""

    plan: Plan
    events: list[Event]


class CancelElsewhere(_Step):
    """``cancel <plan id>`` for a plan this thread does not hold: find the thread whose plan
    waits in a queue under that id and say the same words there, as ``actor`` (its thread's
    policy decides), or say nothing waits under it."""

    plan_id: str
    actor: Actor


class Verify(_Step):
    """Watch a version just deployed with its checks (``bot.shell.verify.after_deploy``)."""

    plan: Plan


class Release(_Step):
    """``release backend v1.4.2 in production <reason>``: lift a quarantine."""

    service: str
    version: str
    environment: str
    reason: str | None
    person: str
    actor: Actor


class LockEnvironment(_Step):
    """``lock production <reason>``: a person locks a whole environment (everyone's deploys
    there but their own are refused: ``bot.core.policy.lock.check_frozen``)."""

    environment: str
    reason: str | None
    person: str
    actor: Actor


class UnlockEnvironment(_Step):
    """``unlock production``: a person lifts a lock on a whole environment, and releases the
    services held there after an interrupted deploy (who may: ``bot.core.policy.lock``)."""

    environment: str
    person: str
    actor: Actor


class Describe(_Step):
    """``where can I deploy backend``: environments, live versions, approvals, locks."""

    service: str


class Pause(_Step):
    """Nothing more to do until something new arrives."""


Step = (
    Apply
    | Decide
    | Prefetch
    | Lookup
    | ResolvePlan
    | Execute
    | Recover
    | Verify
    | LeaveQueue
    | CancelElsewhere
    | Release
    | LockEnvironment
    | UnlockEnvironment
    | Describe
    | Pause
)


class Ctx:
    """What every branch needs: the config, the time and a source of event ids."""

    def __init__(self, *, config: Config, now: datetime, new_id: Callable[[], str]) -> None:
        self.config = config
        self.now = now
        self.new_id = new_id

    def say(
        self,
        text: str,
        purpose: Purpose = "info",
        *,
        to: Actor | None = None,
        replaces: str | None = None,
        route: str | None = None,
    ) -> MessageSent:
        return MessageSent(
            id=self.new_id(),
            at=self.now,
            text=text,
            purpose=purpose,
            to=to,
            replaces=replaces,
            route=route,
        )

    def tell(
        self, thread: Thread, actor: Actor, text: str, purpose: Purpose = "info"
    ) -> MessageSent:
        """A message for ``actor`` alone, in the channel they answered from."""
        return self.say(text, purpose, to=actor, route=reply_route(thread, actor))

    def close_request(self, thread: Thread, text: str, purpose: Purpose) -> list[MessageSent]:
        return closing_messages(
            thread, text=text, purpose=purpose, now=self.now, new_id=self.new_id
        )

    def error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self.new_id(), at=self.now, kind=kind, message=message)
