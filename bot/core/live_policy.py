"""Policy for the world a plan runs in (invariant 2): just before it runs, is the live state
still the one its approvers were shown; and a deploy never quietly goes backwards. Pure."""

from datetime import datetime

from bot.core.plan import DeployRecord, Plan, Tag, version_key
from bot.core.policy import Allowed, Refused

__all__ = ["check_live_state", "check_not_older"]


def _older(candidate: str, than: str) -> bool | None:
    """Whether tag ``candidate`` is an older version than ``than``; None: cannot tell."""
    a, b = version_key(candidate), version_key(than)
    if not (a[0] and b[0]):
        return None  # not both versions: the tag list does not say which is older
    return a < b


def check_not_older(
    *, service: str, environment: str, version: str, live: str | None
) -> Allowed | Refused:
    """A deploy never quietly goes backwards: an older version than the live one is a
    rollback, asked for and approved as one."""
    if live is None or live == version or not _older(version, live):
        return Allowed()
    return Refused(
        reason=f"That would roll {service} in {environment} back from {live} to {version}; "
        f"say 'rollback {service} in {environment} to {version}' if you mean it. "
        "Nothing was deployed."
    )


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"on {then:%Y-%m-%d}"


def check_live_state(
    plan: Plan, *, history: list[DeployRecord], tags: list[Tag], now: datetime
) -> Allowed | Refused:
    """Just before a plan runs: is the world still the one its approvers were shown?

    The environment's live version must still be the plan's "now" version, and the tag must
    still point at the plan's commit. ``history`` is newest first, read after taking the
    environment's lock; ``tags`` are read from the repository, not a cache.
    """
    live_record = next((r for r in history if r.result == "succeeded"), None)
    live = live_record.version if live_record else None
    if live != plan.previous_version:
        assert live_record is not None or plan.previous_version is not None
        if live_record is None:
            now_text = f"{plan.environment} has no successful deploy of {plan.service} now"
        else:
            when = _ago(datetime.fromisoformat(live_record.at), now)
            now_text = (
                f"{plan.environment} is now {live}, deployed by {live_record.requester} {when}"
            )
        made = plan.previous_version or "nothing deployed"
        return Refused(reason=f"{now_text}; this plan was made against {made}.")
    tag = next((t for t in tags if t.name == plan.version), None)
    if tag is None:
        return Refused(reason=f"the tag {plan.version} no longer exists in {plan.service}.")
    if tag.sha != plan.sha:
        return Refused(
            reason=f"the tag {plan.version} now points at {tag.sha[:7]}, not {plan.sha[:7]} "
            "as planned."
        )
    return Allowed()
