"""Events: the append-only facts a thread is made of (past tense or noun-shaped). Each has an
``id`` (inbound: the channel's, so a redelivery is recognised), ``at`` (UTC), a typed ``actor``
where a person acts (``bot.core.thread.actor``); outside text in it is typed
(``bot.core.thread.outside``), cleaned when it is made and when it is loaded."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.actor import Actor
from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.intents import Intent
from bot.core.thread.outside import Line, Output, Text, Url
from bot.core.thread.plan import DeployRecord, Evidence, Plan, Tag

__all__ = [
    "ApprovalDecided",
    "ApprovalEscalated",
    "ApprovalRefused",
    "ApprovalRequested",
    "CronFired",
    "DecisionReceived",
    "DeployFinished",
    "DeployInterrupted",
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
    "TagsListed",
    "TimerFired",
    "UserMessage",
    "VerificationFinished",
    "VersionQuarantined",
    "VersionReleased",
    "WebhookReceived",
]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    at: datetime


class UserMessage(_Event):
    type: Literal["user_message"] = "user_message"
    actor: Actor
    text: Text


class CronFired(_Event):
    type: Literal["cron_fired"] = "cron_fired"
    schedule: str
    instruction: str


class WebhookReceived(_Event):
    type: Literal["webhook_received"] = "webhook_received"
    name: str
    instruction: Text


class TagsListed(_Event):
    type: Literal["tags_listed"] = "tags_listed"
    service: str
    tags: list[Tag]


class HistoryListed(_Event):
    type: Literal["history_listed"] = "history_listed"
    service: str
    environment: str
    deploys: list[DeployRecord]


class IntentChosen(_Event):
    type: Literal["intent_chosen"] = "intent_chosen"
    intent: Intent
    source: Literal["grammar", "model", "system"]
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0  # of input_tokens: read from the prompt cache
    cache_creation_input_tokens: int = 0  # of input_tokens: written to it


class PlanProposed(_Event):
    type: Literal["plan_proposed"] = "plan_proposed"
    plan: Plan
    evidence: Evidence | None = None  # shown with the approval request; not approved itself


class ApprovalRequested(_Event):
    type: Literal["approval_requested"] = "approval_requested"
    plan_hash: str
    approvers: list[str]
    min_approvals: int
    expires_at: datetime


class DecisionReceived(_Event):
    """A person's answer to an approval request as its channel delivered it (a Slack button
    or form, an email reply's signed token, the API's body): data, never text to parse again.
    ``plan_hash`` names the plan the person was shown: the whole hash, or the prefix the channel
    could carry (an email token: 12 hex digits). The worker checks it against the open request;
    policy decides whether it counts (then ``approval_decided``)."""

    type: Literal["decision_received"] = "decision_received"
    actor: Actor
    decision: Literal["approve", "reject"]
    plan_hash: str = Field(min_length=4, max_length=64, pattern=r"^[0-9a-f]+$")
    reason: Line | None = None


class ApprovalDecided(_Event):
    type: Literal["approval_decided"] = "approval_decided"
    plan_hash: str
    actor: Actor
    person: str
    decision: Literal["approve", "reject"]
    reason: Line | None = None


class ApprovalEscalated(_Event):
    """Nobody decided in time: the request also went to ``to`` (a route), and ``approvers``
    (the environment's escalation group) may now decide it as well."""

    type: Literal["approval_escalated"] = "approval_escalated"
    plan_hash: str
    to: str | None = None
    approvers: list[str] = Field(default_factory=list)


class PlanSuperseded(_Event):
    """Another plan for the same service and environment ran (``by``, described), so this
    thread's open request for ``plan_hash`` no longer counts: it is closed everywhere it was
    posted, and a decision naming it changes nothing."""

    type: Literal["plan_superseded"] = "plan_superseded"
    plan_hash: str
    by: Line


class ApprovalRefused(_Event):
    """Someone tried to decide and policy said no; kept for the audit trail."""

    type: Literal["approval_refused"] = "approval_refused"
    actor: Actor
    reason: Line


class DeployStarted(_Event):
    type: Literal["deploy_started"] = "deploy_started"
    plan_hash: str
    idempotency_key: str
    fencing_token: int


class DeployFinished(_Event):
    type: Literal["deploy_finished"] = "deploy_finished"
    plan_hash: str
    result: Literal["succeeded", "failed", "timed_out"]
    exit_code: int | None
    duration_s: float
    output_tail: Output
    link: Url | None = None  # where to see the deploy (a workflow run)


class DeployInterrupted(_Event):
    """A deploy was started and its worker died before recording the result."""

    type: Literal["deploy_interrupted"] = "deploy_interrupted"
    plan_hash: str


ErrorKind = Literal[
    "invalid_output", "invalid_intent", "model_unavailable", "tool_failed", "locked", "refused"
]


class ErrorRecorded(_Event):
    type: Literal["error_recorded"] = "error_recorded"
    kind: ErrorKind
    message: Text
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


Purpose = Literal["info", "question", "approval_request", "result", "error", "progress"]


class MessageSent(_Event):
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


class TimerFired(_Event):
    """A durable timer came due: remind, escalate, expire a request, or verify a deploy."""

    type: Literal["timer_fired"] = "timer_fired"
    kind: Literal["remind", "escalate", "expire", "verify"]
    plan_hash: str


class VerificationFinished(_Event):
    """The checks after a successful deploy ended (``superseded``: a newer deploy of the
    pair started first; nothing decided). ``message_id``: the message this replaces."""

    type: Literal["verification_finished"] = "verification_finished"
    plan_hash: str
    result: Literal["verified", "failed", "superseded"]
    summary: Text
    message_id: str | None = None


class VersionQuarantined(_Event):
    """``version`` may not be deployed to ``environment`` again until it is released."""

    type: Literal["version_quarantined"] = "version_quarantined"
    service: str
    environment: str
    version: str
    by: str
    reason: Line


class VersionReleased(_Event):
    """An approver lifted a quarantine (``release backend v1.4.2 in production <reason>``)."""

    type: Literal["version_released"] = "version_released"
    service: str
    environment: str
    version: str
    person: str
    reason: Line


class LockChanged(_Event):
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
    | VersionReleased,
    Field(discriminator="type"),
]
