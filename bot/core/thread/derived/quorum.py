"""The one quorum count: how many different people approved, against how many a request
asked for. One person approving twice counts once. ``derive_status`` (the thread's status)
and ``bot.core.policy.approval.has_quorum`` (whether a plan may run) both ask it, so the
status and the policy can never disagree about a request's approvals."""

from collections.abc import Iterable

__all__ = ["approvals_count", "quorum_reached"]


def approvals_count(approved_by: Iterable[str]) -> int:
    """How many different people approved (a person named twice counts once)."""
    return len(set(approved_by))


def quorum_reached(approved_by: Iterable[str], *, needed: int) -> bool:
    """True when ``needed`` different people are among ``approved_by``."""
    return approvals_count(approved_by) >= needed
