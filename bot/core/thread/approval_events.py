"""The events of approval: a request, a decision as a channel delivered it, a decision that
counted or was refused, an escalation, and a plan superseded by another that ran. Part of the
``Event`` union (``bot.core.thread.events``), which re-exports them."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from bot.core.thread.event_base import EventBase
from bot.core.thread.text.actor import Actor
from bot.core.thread.text.outside import Line

__all__ = [
    "ApprovalDecided",
    "ApprovalEscalated",
    "ApprovalRefused",
    "ApprovalRequested",
    "DecisionReceived",
    "PlanSuperseded",
]


class ApprovalRequested(EventBase):
    type: Literal["approval_requested"] = "approval_requested"
    plan_hash: str
    approvers: list[str]
    min_approvals: int
    expires_at: datetime


class DecisionReceived(EventBase):
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


class ApprovalDecided(EventBase):
    type: Literal["approval_decided"] = "approval_decided"
    plan_hash: str
    actor: Actor
    person: str
    decision: Literal["approve", "reject"]
    reason: Line | None = None


class ApprovalEscalated(EventBase):
    """Nobody decided in time: the request also went to ``to`` (a route), and ``approvers``
    (the environment's escalation group) may now decide it as well."""

    type: Literal["approval_escalated"] = "approval_escalated"
    plan_hash: str
    to: str | None = None
    approvers: list[str] = Field(default_factory=list)


class PlanSuperseded(EventBase):
    """Another plan for the same service and environment ran (``by``, described), so this
    thread's open request for ``plan_hash`` no longer counts: it is closed everywhere it was
    posted, and a decision naming it changes nothing."""

    type: Literal["plan_superseded"] = "plan_superseded"
    plan_hash: str
    by: Line


class ApprovalRefused(EventBase):
    """Someone tried to decide and policy said no; kept for the audit trail."""

    type: Literal["approval_refused"] = "approval_refused"
    actor: Actor
    reason: Line
