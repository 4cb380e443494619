"""The words of waiting (pure): a plan's place in its pair's queue, a ``when ready`` wait,
a cancel. Positions count the plans waiting (1: next to run; the running deploy is not
counted)."""

from datetime import datetime

from bot.core.thread.plan import Plan

__all__ = [
    "awaiting_text",
    "cancel_sent_text",
    "cancelled_text",
    "full_text",
    "moved_text",
    "nothing_waiting_text",
    "ordinal",
    "queued_text",
    "release_held_text",
    "superseded_text",
]


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _behind(behind: str | None) -> str:
    return f", behind {behind}" if behind else ""


def queued_text(plan: Plan, *, position: int, behind: str | None) -> str:
    return (
        f"{plan.service} in {plan.environment} is busy: plan #{plan.short_id} "
        f"({plan.service} {plan.version}) is {ordinal(position)} in line{_behind(behind)}. "
        "It runs when its turn comes, checked again then; say 'cancel' to leave the line."
    )


def moved_text(plan: Plan, *, position: int, behind: str | None) -> str:
    return (
        f"Plan #{plan.short_id} ({plan.service} {plan.version} to {plan.environment}) is now "
        f"{ordinal(position)} in line{_behind(behind)}."
    )


def full_text(plan: Plan, *, waiting: int, behind: str | None) -> str:
    return (
        f"{plan.service} in {plan.environment} is busy{_behind(behind)} and its line is full "
        f"({waiting} plans waiting, queue_max). Plan #{plan.short_id} did not join it; "
        "nothing was deployed. Ask again later."
    )


def release_held_text(plan: Plan, *, reason: str) -> str:
    """An approved plan that release policy stopped just before it ran."""
    return f"Plan #{plan.short_id} ({plan.describe()}) did not run: {reason}"


def awaiting_text(reason: str, *, retry_at: datetime) -> str:
    """A ``when ready`` wait (or a plan a freeze stopped), with when it is looked at again."""
    return (
        f"{reason} I will plan it again at {retry_at:%H:%M} UTC ({retry_at:%a %-d %b}); "
        "say 'cancel' to stop waiting."
    )


def cancelled_text(plan: Plan | None, *, who: str) -> str:
    if plan is None:
        return f"Stopped waiting (cancelled by {who}). Nothing was deployed."
    return (
        f"Plan #{plan.short_id} ({plan.service} {plan.version} to {plan.environment}) left "
        f"the line (cancelled by {who}). Nothing was deployed."
    )


def superseded_text(plan: Plan | None, *, by: str | None) -> str:
    """A wait another thread took over: a plan's place in line, or a ``when ready``."""
    newer = by or "a newer plan for the same version"
    if plan is None:
        return f"Stopped waiting: superseded by {newer}. Nothing was deployed from here."
    what = f"Plan #{plan.short_id} ({plan.service} {plan.version})"
    return f"{what} left the line: superseded by {newer}."


def cancel_sent_text(plan_id: str, *, what: str) -> str:
    return (
        f"Asked plan #{plan_id[:8]} ({what}) to leave the line, in its own thread: it says "
        "there whether it did (its requester or an approver may cancel it)."
    )


def nothing_waiting_text(plan_id: str | None) -> str:
    if plan_id:
        return f"Plan #{plan_id.lstrip('#')[:8]} is not waiting in this thread; nothing changed."
    return "Nothing in this thread is waiting in line; nothing changed."
