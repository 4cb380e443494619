"""Events: the append-only facts a thread is made of (past tense or noun-shaped). Each has an
``id`` (inbound: the channel's, so a redelivery is recognised), ``at`` (UTC), a typed ``actor``
where a person acts (``bot.core.thread.text.actor``); outside text in it is typed
(``bot.core.thread.text.outside``), cleaned when it is made and when it is loaded."""

from typing import Annotated, Literal

from pydantic import Field

from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.approval_events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    DecisionReceived,
    PlanSuperseded,
)
from bot.core.thread.event_base import EventBase
from bot.core.thread.intents import Intent
from bot.core.thread.plan import DeployRecord, Evidence, Plan, Tag
from bot.core.thread.release_events import (
    DeployQueued,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.text.outside import Line, Output, Text, Url

__all__ = [
    "ApprovalDecided",
    "ApprovalEscalated",
    "ApprovalRefused",
    "ApprovalRequested",
    "CronFired",
    "DecisionReceived",
    "DeployFinished",
    "DeployInterrupted",
    "DeployQueued",
    "DeployStarted",
    "ErrorKind",
    "ErrorRecorded",
    "Event",
    "HistoryListed",
    "IntentChosen",
    "LockChanged",
    "MessageSent",
    "PlanProposed",
    "PlanSuperseded",
    "Purpose",
    "QueueLeft",
    "QueueMoved",
    "QueueTurn",
    "ReleaseAwaited",
    "TagsListed",
    "TimerFired",
    "UserMessage",
    "VerificationFinished",
    "VersionQuarantined",
    "VersionReleased",
    "WebhookReceived",
]


class UserMessage(EventBase):
    type: Literal["user_message"] = "user_message"
    actor: Actor
    text: Text


class CronFired(EventBase):
    type: Literal["cron_fired"] = "cron_fired"
    schedule: str
    instruction: str


class WebhookReceived(EventBase):
    type: Literal["webhook_received"] = "webhook_received"
    name: str
    instruction: Text


class TagsListed(EventBase):
    type: Literal["tags_listed"] = "tags_listed"
    service: str
    tags: list[Tag]


class HistoryListed(EventBase):
    type: Literal["history_listed"] = "history_listed"
    service: str
    environment: str
    deploys: list[DeployRecord]


class IntentChosen(EventBase):
    type: Literal["intent_chosen"] = "intent_chosen"
    intent: Intent
    source: Literal["grammar", "model", "system"]
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0  # of input_tokens: read from the prompt cache
    cache_creation_input_tokens: int = 0  # of input_tokens: written to it


class PlanProposed(EventBase):
    type: Literal["plan_proposed"] = "plan_proposed"
    plan: Plan
    evidence: Evidence | None = None  # shown with the approval request; not approved itself


class DeployStarted(EventBase):
    type: Literal["deploy_started"] = "deploy_started"
    plan_hash: str
    idempotency_key: str
    fencing_token: int


class DeployFinished(EventBase):
    type: Literal["deploy_finished"] = "deploy_finished"
    plan_hash: str
    result: Literal["succeeded", "failed", "timed_out"]
    exit_code: int | None
    duration_s: float
    output_tail: Output
    link: Url | None = None  # where to see the deploy (a workflow run)


class DeployInterrupted(EventBase):
    """A deploy was started and its worker died before recording the result."""

    type: Literal["deploy_interrupted"] = "deploy_interrupted"
    plan_hash: str


ErrorKind = Literal[
    "invalid_output", "invalid_intent", "model_unavailable", "tool_failed", "locked", "refused"
]


class ErrorRecorded(EventBase):
    type: Literal["error_recorded"] = "error_recorded"
    kind: ErrorKind
    message: Text
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


Purpose = Literal["info", "question", "approval_request", "result", "error", "progress"]


class MessageSent(EventBase):
    """A message to the people in the thread; recorded before the outbox delivers it.
    ``to``: only for this actor (a refusal: Slack shows it to them alone). ``replaces``: an
    earlier message this one updates in place where the channel can edit (a decided approval
    request, a finished deploy's progress); elsewhere it is simply sent. ``route``: deliver
    there (an approval channel's copy, a refusal to someone who answered from elsewhere)
    instead of back to the thread's origin. ``card``: the approval request it asks for or
    closes, recorded by the core (stored before cards were: ``bot.core.wording.cards``)."""

    type: Literal["message_sent"] = "message_sent"
    text: Text
    purpose: Purpose = "info"
    to: Actor | None = None
    replaces: str | None = None
    route: str | None = None
    card: ApprovalCard | None = None


class TimerFired(EventBase):
    """A durable timer came due: remind, escalate, expire a request, verify a deploy, or
    look at a wait for release policy again (``ready``: ``plan_hash`` is then the id of the
    ``release_awaited`` event)."""

    type: Literal["timer_fired"] = "timer_fired"
    kind: Literal["remind", "escalate", "expire", "verify", "ready"]
    plan_hash: str


class VerificationFinished(EventBase):
    """The checks after a successful deploy ended (``superseded``: a newer deploy of the
    pair started first; nothing decided). ``message_id``: the message this replaces."""

    type: Literal["verification_finished"] = "verification_finished"
    plan_hash: str
    result: Literal["verified", "failed", "superseded"]
    summary: Text
    message_id: str | None = None


class VersionQuarantined(EventBase):
    """``version`` may not be deployed to ``environment`` again until it is released."""

    type: Literal["version_quarantined"] = "version_quarantined"
    service: str
    environment: str
    version: str
    by: str
    reason: Line


class VersionReleased(EventBase):
    """An approver lifted a quarantine (``release backend v1.4.2 in production <reason>``)."""

    type: Literal["version_released"] = "version_released"
    service: str
    environment: str
    version: str
    person: str
    reason: Line


class LockChanged(EventBase):
    """A deploy's lock on one service in one environment (``fencing_token`` > 0), or a
    person's lock on a whole environment (``service`` "*", with who and why)."""

    type: Literal["lock_changed"] = "lock_changed"
    service: str
    environment: str
    action: Literal["acquired", "released"]
    fencing_token: int = 0
    by: str | None = None
    reason: Line | None = None


Event = Annotated[
    UserMessage
    | CronFired
    | WebhookReceived
    | TagsListed
    | HistoryListed
    | IntentChosen
    | PlanProposed
    | ApprovalRequested
    | DecisionReceived
    | ApprovalDecided
    | ApprovalEscalated
    | PlanSuperseded
    | ApprovalRefused
    | DeployStarted
    | DeployFinished
    | DeployInterrupted
    | ErrorRecorded
    | MessageSent
    | LockChanged
    | TimerFired
    | VerificationFinished
    | VersionQuarantined
    | VersionReleased
    | ReleaseAwaited
    | DeployQueued
    | QueueMoved
    | QueueTurn
    | QueueLeft,
    Field(discriminator="type"),
]
