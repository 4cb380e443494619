"""The words of promotion and soak (pure): where a version stands in each environment it must
pass through first, and why it cannot be planned yet. The decisions are
``bot.core.release.promotion``'s; times are said in UTC."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.thread.plan import Plan

__all__ = [
    "Standing",
    "not_promotable_text",
    "override_lines",
    "skip_not_allowed_text",
    "span_text",
    "standing_text",
]


class Standing(BaseModel):
    """Where one commit stands in one required environment (``bot.core.release.promotion``).
    ``at``: since when (deployed, or soaking from); ``until``: when its soak is done
    (``soaking``), or when it left (``left_early``, ``verified``/``live`` no longer live)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["absent", "voided", "unverified", "left_early", "soaking", "verified", "live"]
    at: datetime | None = None
    until: datetime | None = None
    soak_s: float = 0
    voided: str | None = None


def span_text(seconds: float) -> str:
    """``under a minute``, ``12 min``, ``2 h 5 min``, ``3 days``."""
    if seconds < 60:
        return "under a minute"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")


def _when(moment: datetime, now: datetime) -> str:
    """``14:32 UTC`` today, else ``Tue 8 Dec 14:32 UTC``."""
    if moment.date() == now.date():
        return _clock(moment)
    return f"{moment.strftime('%a')} {moment.day} {moment.strftime('%b %H:%M')} UTC"


_VOIDED = {
    "failed": "its deploy to {env} failed",
    "interrupted": "its deploy to {env} was interrupted",
    "verification_failed": "it failed verification in {env}",
    "rolled_back": "it was rolled back in {env}",
}


def standing_text(environment: str, standing: Standing, *, now: datetime) -> str:
    """One clause: ``verified in staging 2 h ago``, ``in staging for 12 of 30 min: ready at
    14:32 UTC``."""
    at, until, soak = standing.at, standing.until, standing.soak_s
    match standing.kind:
        case "absent":
            return f"not deployed to {environment}"
        case "voided":
            return _VOIDED.get(standing.voided or "", "it failed in {env}").format(env=environment)
        case "unverified":
            assert at is not None
            return f"deployed to {environment} at {_when(at, now)}, not verified there yet"
        case "left_early":
            assert at is not None
            assert until is not None
            return (
                f"left {environment} after {span_text((until - at).total_seconds())} of "
                f"{span_text(soak)} (replaced at {_when(until, now)})"
            )
        case "soaking":
            assert at is not None
            assert until is not None
            return (
                f"in {environment} for {span_text((now - at).total_seconds())} of "
                f"{span_text(soak)}: ready at {_when(until, now)}"
            )
        case "verified" | "live":
            assert at is not None
            verb = "verified in" if standing.kind == "verified" else "deployed to"
            text = f"{verb} {environment} {span_text((now - at).total_seconds())} ago"
            return text + (" (since replaced there)" if until is not None else "")


def override_lines(plan: Plan) -> list[str]:
    """What a plan's overrides say on its card, in full (the approvers decide with them)."""
    lines = []
    for o in plan.overrides:
        what = (
            "BREAK GLASS (deploys during a freeze)"
            if o.kind == "break_glass"
            else ("SKIP SOAK (before its soak in the environments before this one ended)")
        )
        lines.append(f"{what}, by {o.person}: {o.reason}")
    return lines


def skip_not_allowed_text(environment: str, override_by: list[str]) -> str:
    who = " or ".join(override_by)
    if not who:
        return f"Nobody may skip the soak for {environment}."
    return f"Only {who} may skip the soak for {environment}."


def not_promotable_text(
    *,
    version: str,
    environment: str,
    notes: list[str],
    can_wait: bool,
    override_by: list[str],
    service: str = "",
    requires: list[str] | None = None,
) -> str:
    """Why the version is not planned, and what to do."""
    what = f"{service} {version}".strip()
    head = f"{what} is not ready for {environment}: {'; '.join(notes)}. Nothing was planned."
    if not can_wait:
        first = " and ".join(requires or []) or "the environments before it"
        return head + f" It goes to {environment} once it is live and healthy in {first}."
    command = f"deploy {what} to {environment}"
    tail = f" Say '{command} when ready' to have it planned then"
    if override_by:
        tail += f"; {' or '.join(override_by)} may say '{command} skip soak <reason>'"
    return head + tail + "."
