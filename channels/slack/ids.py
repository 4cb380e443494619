"""Identifiers the Slack channel derives (pure): thread ids, event ids, button values.

A bot thread's id is derived from the Slack conversation it lives in, so every message in
that Slack thread (and every retry of one) lands in the same bot thread without a lookup.
Inbound events keep Slack's ``event_id``; clicks, modal submissions and slash commands have
none, so theirs is a hash of the payload's stable ids: a replayed payload is the same event
and the worker drops it.
"""

import hashlib
import re

__all__ = [
    "APPROVE_ACTION",
    "REASON_BLOCK",
    "REASON_INPUT",
    "REJECT_ACTION",
    "REJECT_VIEW",
    "button_value",
    "derived_event_id",
    "parse_button_value",
    "thread_id_for",
]

APPROVE_ACTION = "deploybot_approve"
REJECT_ACTION = "deploybot_reject"
REJECT_VIEW = "deploybot_reject_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"

_THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PLAN_HASH = re.compile(r"[0-9a-f]{4,64}")


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def thread_id_for(team: str, channel: str, root_ts: str) -> str:
    """The bot thread of a Slack thread: ``s`` + 12 hex digits of its team, channel, root ts."""
    return "s" + _digest(team, channel, root_ts, length=12)


def derived_event_id(kind: str, *stable: str) -> str:
    """An event id for a payload without one (``kind`` keeps the kinds apart)."""
    return f"slack-{kind}-" + _digest(kind, *stable, length=20)


def button_value(thread_id: str, plan_hash: str) -> str:
    """What an Approve/Reject button carries: the thread and the plan it decides."""
    return f"{thread_id}:{plan_hash}"


def parse_button_value(value: str) -> tuple[str, str] | None:
    """``(thread id, plan hash)`` from a button value, or None if it is not one of ours."""
    thread_id, sep, plan_hash = value.partition(":")
    if sep and _THREAD_ID.fullmatch(thread_id) and _PLAN_HASH.fullmatch(plan_hash):
        return thread_id, plan_hash
    return None
