"""The words of a running deploy's watch (pure): why the pair's lock could not be kept, and
what the deploy's result or unknown outcome then says (bot/shell/deploy/watch.py keeps the
lock and stops the command; it records these words)."""

from bot.core.thread.plan import Plan

__all__ = [
    "cancel_asked_reason",
    "lock_lost_reason",
    "not_dispatched_tail",
    "redis_unreachable_reason",
    "stopped_tail",
]


def not_dispatched_tail(plan: Plan) -> str:
    """A GitHub deploy whose lock could not be renewed to the run's lease before dispatch."""
    return (
        f"deploybot: the lock on {plan.service} in {plan.environment} "
        "could not be kept before the dispatch; nothing was dispatched."
    )


def redis_unreachable_reason(plan: Plan, *, unreachable_s: float) -> str:
    """Why the lock could not be kept: Redis did not answer for half the lease."""
    return (
        f"Redis was unreachable for {unreachable_s:.0f} s, so the lock on "
        f"{plan.service} in {plan.environment} could not be kept"
    )


def lock_lost_reason(plan: Plan) -> str:
    """Why the lock could not be kept: it was no longer this deploy's."""
    return (
        f"the lock on {plan.service} in {plan.environment} was lost (it "
        "expired or was removed, e.g. by a Redis restart without persistence)"
    )


def cancel_asked_reason(reason: str) -> str:
    """A GitHub run's outcome once its lock was lost (``reason``): asked to cancel."""
    return f"deploybot: {reason}; the GitHub run was asked to cancel and may still be running."


def stopped_tail(plan: Plan, *, reason: str) -> str:
    """A command stopped because its lock could not be kept (``reason``)."""
    return (
        f"deploybot: stopped the command before its lock could expire: "
        f"{reason}. Check {plan.environment}: the deploy did not finish."
    )
