"""An approval request as the people asked see it: the card (data, no words).

The core records it on the ``message_sent`` that asks for an approval, and on each message
that closes that request (a decision, an expiry), when it appends them; every channel renders
it from there (Slack buttons, an approval email's reply instructions, the decided card)
without reading the thread again. ``plan.plan_hash`` is what a decision names.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from bot.core.reading.vocabulary import APPROVE, REJECT
from bot.core.thread.plan import Evidence, Plan

__all__ = ["ApprovalCard"]


class ApprovalCard(BaseModel):
    """The plan to decide, who may decide it and how many must, until when, the evidence
    shown beside it, and the words to reply with where a channel takes a typed answer."""

    model_config = ConfigDict(frozen=True)

    plan: Plan
    plan_hash: str
    approvers: list[str]
    min_approvals: int
    expires_at: datetime
    evidence: Evidence | None = None  # shown beside the plan (commits, CI, live version)
    approve_with: str = APPROVE
    reject_with: str = REJECT  # followed by a reason
