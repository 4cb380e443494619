"""The audit trail: who asked, what the model chose, who approved, what ran, who locked.

Almost everything is already in the threads; this module selects the events an auditor
needs and flattens them into JSON-ready records (pure), for ``deploybot audit --since 7d``.
An email ignored because our mail servers did not vouch for it belongs to no thread: it is
kept as a ``MailRefusal`` (who it claimed to be, why it was refused) beside them.
"""

import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    IntentChosen,
    LockChanged,
    PlanProposed,
    PlanSuperseded,
    QueueLeft,
    ReleaseAwaited,
    TimerFired,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.thread.thread import Thread

__all__ = [
    "MailRefusal",
    "RefusalKind",
    "audit_records",
    "parse_since",
    "refusal_record",
]

#: Why an email was not believed to be from whom it claimed (a closed set: metric labels).
RefusalKind = Literal[
    "no_results",  # no Authentication-Results from our servers above the boundary
    "unreadable",  # one of ours could not be read
    "no_dmarc",  # ours carry no dmarc result
    "dmarc_fail",  # one of ours says fail, none, temperror, ...
    "other_domain",  # a pass for another domain than From's
    "unbacked",  # a pass that none of our own spf/dkim results supports
]


class MailRefusal(BaseModel):
    """An email ignored because our own mail servers did not vouch for its sender."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    claimed: str  # the From address it carried (a configured person's)
    person: str  # that person's name in [people]
    kind: RefusalKind
    reason: str
    message_id: str  # as the message spelled it (capped): what to look for in the mailbox


_AUDITED = (
    UserMessage,
    CronFired,
    WebhookReceived,
    IntentChosen,
    PlanProposed,
    ApprovalRequested,
    DecisionReceived,
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    PlanSuperseded,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    DeployStarted,
    DeployFinished,
    DeployInterrupted,
    LockChanged,
    TimerFired,
    ErrorRecorded,
    ReleaseAwaited,
    DeployQueued,
    QueueLeft,
)
_SINCE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, *, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m`` ... or an ISO 8601 time."""
    if match := _SINCE.match(value.strip()):
        return now - timedelta(seconds=int(match[1]) * _UNIT_S[match[2]])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"--since: {value!r} is neither like 7d/12h/30m nor an ISO time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)


def audit_records(thread: Thread, *, since: datetime) -> list[dict[str, Any]]:
    """The thread's auditable events at or after ``since``, oldest first.

    A lock change is audited only when a person made it (deploys' own locks are implied by
    their deploy events); lookups and messages are left out.
    """
    records: list[dict[str, Any]] = []
    for event in thread.events:
        if event.at < since or not isinstance(event, _AUDITED):
            continue
        if isinstance(event, LockChanged) and event.by is None:
            continue
        if isinstance(event, TimerFired) and event.kind != "expire":
            continue
        fields = event.model_dump(mode="json", exclude={"id", "at", "type"}, exclude_none=True)
        records.append(
            {"at": event.at.isoformat(), "thread": thread.id, "event": event.type, **fields}
        )
    return records


def refusal_record(refusal: MailRefusal) -> dict[str, Any]:
    """One refused email as an audit record (``event: email_refused``)."""
    return {
        "at": refusal.at.isoformat(),
        "event": "email_refused",
        **refusal.model_dump(mode="json", exclude={"at"}),
    }
