"""The words of a quarantine (pure): why a commit was quarantined, how the pair's entries read
in ``where can I deploy``, and what ``release SERVICE VERSION in ENV <reason>`` answers.

The decisions (what is quarantined, which entries a ``release`` lifts) are
``bot.core.policy.quarantine``; this module only words what it decided.
"""

from collections.abc import Iterable

from bot.core.thread.plan import Plan, Quarantined

__all__ = [
    "entries_text",
    "moved_tag_text",
    "not_quarantined_text",
    "not_released_text",
    "nothing_quarantined_text",
    "released_text",
    "rolled_back_reason",
    "tags_unreadable_text",
]


def rolled_back_reason(plan: Plan) -> str:
    """The reason recorded for the commit a rollback left (``plan`` is the rollback)."""
    return f"rolled back to {plan.version} by {plan.requester}"


def _stamp(entry: Quarantined) -> str:
    return entry.at[:16].replace("T", " ")


def entries_text(entries: Iterable[Quarantined]) -> str:
    """The pair's quarantine, as one clause of a ``where`` row."""
    listed = "; ".join(
        f"{q.version} (by {q.by}, {_stamp(q)} UTC" + (f"; commit {q.sha[:7]})" if q.sha else ")")
        for q in entries
    )
    return f"quarantined: {listed}"


def moved_tag_text(asked: str, *, now_sha: str, was_sha: str) -> str:
    """``asked`` was moved off the quarantined commit: releasing the name lifts nothing."""
    return (
        f"{asked} now points at {now_sha[:7]}, which is not quarantined; commit "
        f"{was_sha[:7]}, quarantined as {asked}, stays quarantined."
    )


def not_quarantined_text(asked: str, *, sha: str | None = None) -> str:
    """``asked`` (resolving to ``sha`` where it is a tag) names nothing quarantined."""
    named = f"{asked} ({sha[:7]})" if sha else asked
    return f"{named} is not quarantined."


def nothing_quarantined_text(service: str, environment: str) -> str:
    return f"Nothing is quarantined for {service} in {environment}."


def tags_unreadable_text(service: str, error: str) -> str:
    return f"I could not read {service}'s tags ({error}); nothing was released."


def not_released_text(service: str, version: str, *, why_not: str | None) -> str:
    """A ``release`` that lifted nothing (``why_not`` from the policy, when it said)."""
    return f"{service} {why_not or not_quarantined_text(version)}"


def released_text(
    *,
    service: str,
    version: str,
    environment: str,
    person: str,
    reason: str,
    released: Iterable[Quarantined],
) -> str:
    """The answer to a ``release`` that lifted ``released`` (the entries as they were)."""
    was = "; ".join(
        f"{e.version}" + (f" ({e.sha[:7]})" if e.sha else "") + f" by {e.by}: {e.reason}"
        for e in released
    )
    return (
        f"{service} {version} may be deployed to {environment} again "
        f"(released by {person}: {reason}; it was quarantined as {was})."
    )
