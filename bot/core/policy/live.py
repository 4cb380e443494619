"""Policy for the world a plan runs in (invariant 2): just before it runs, is the live state
still the one its approvers were shown; and a deploy never quietly goes backwards. Both are
decided on commits (a version is its commit), not on how a tag is spelled. Pure."""

from datetime import datetime

from bot.core.policy.approval import Allowed, Refused
from bot.core.policy.deploys import live_record
from bot.core.thread.plan import DeployRecord, Lineage, Plan, Tag, version_key
from bot.core.thread.refusals import GoesBackwards, LiveChanged, TagGone, TagMoved

__all__ = ["check_live_state", "check_not_older"]


def _older(candidate: str, than: str) -> bool | None:
    """Whether tag ``candidate`` is an older version than ``than``; None: cannot tell."""
    a, b = version_key(candidate), version_key(than)
    if not (a[0] and b[0]):
        return None  # not both versions: the tag list does not say which is older
    return a < b


def check_not_older(
    *,
    service: str,
    environment: str,
    version: str,
    live: str | None,
    lineage: Lineage | None = None,
) -> Allowed | Refused:
    """A deploy never quietly goes backwards: a commit the live one is built on (git
    ancestry, whatever the tags are called) is a rollback, asked for and approved as one.

    ``lineage``: how the planned commit stands to the live one. Only where git could not
    say (no lineage, or ``unknown``) do version-shaped tag names decide, as semver orders
    them; other names are then not judged."""
    if live is None:
        return Allowed()
    match lineage.relation if lineage is not None else "unknown":
        case "behind":
            backwards = True
        case "same" | "ahead" | "diverged":
            backwards = False
        case _:
            backwards = live != version and bool(_older(version, live))
    if not backwards:
        return Allowed()
    return Refused(
        why=GoesBackwards(service=service, environment=environment, live=live, version=version)
    )


def _drifted(plan: Plan, live: DeployRecord | None) -> bool:
    """Is the live deploy another commit than the one the plan was made against? (Plans
    made before commits were recorded compare the version names, as they were made.)"""
    if live is None or plan.previous_version is None:
        return (live is None) != (plan.previous_version is None)
    if plan.previous_sha is None:
        return live.version != plan.previous_version
    return live.sha != plan.previous_sha


def check_live_state(
    plan: Plan, *, history: list[DeployRecord], tags: list[Tag], now: datetime
) -> Allowed | Refused:
    """Just before a plan runs: is the world still the one its approvers were shown?

    The environment's live commit must still be the one the plan was made against, and the
    tag must still point at the plan's commit. ``history`` is newest first, read after
    taking the environment's lock; ``tags`` are read from the repository, not a cache.
    """
    live = live_record(history)
    if _drifted(plan, live):
        return Refused(why=LiveChanged(plan=plan, live=live, now=now))
    tag = next((t for t in tags if t.name == plan.version), None)
    if tag is None:
        return Refused(why=TagGone(service=plan.service, version=plan.version))
    if tag.sha != plan.sha:
        return Refused(why=TagMoved(version=plan.version, now_sha=tag.sha, planned_sha=plan.sha))
    return Allowed()
