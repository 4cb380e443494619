"""The audit trail: who asked, what the model chose, who approved, what ran, who locked.

Everything is already in the threads; this module selects the events an auditor needs and
flattens them into JSON-ready records (pure), for ``deploybot audit --since 7d``.
"""

import re
from datetime import datetime, timedelta
from typing import Any

from bot.core.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    ErrorRecorded,
    IntentChosen,
    LockChanged,
    PlanProposed,
    PlanSuperseded,
    TimerFired,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.thread import Thread

__all__ = ["audit_records", "parse_since"]

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
