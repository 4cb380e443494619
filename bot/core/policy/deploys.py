"""What the deploy history says, in pure rules: which deploy is live now, and which one a
rollback goes back to (passing over quarantined commits). The history itself is kept in
Redis by ``bot.shell.world.history``."""

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from bot.core.thread.plan import DeployRecord, Plan
from bot.core.thread.thread import Thread

__all__ = ["current_version", "last_good_before", "live_record", "record_of"]

Ran = Literal["succeeded", "failed", "timed_out", "interrupted"]


def record_of(thread: Thread, plan: Plan, *, result: Ran, at: datetime) -> DeployRecord:
    """The history's line for ``plan``'s run in ``thread`` (its idempotency key included)."""
    return DeployRecord(
        thread_id=thread.id,
        kind=plan.kind,
        version=plan.version,
        sha=plan.sha,
        requester=plan.requester,
        approvers=thread.approvers_of(plan.plan_hash),
        result=result,
        at=at.isoformat(),
        idempotency_key=f"{thread.id}:{plan.plan_hash}",
    )


def live_record(history: list[DeployRecord]) -> DeployRecord | None:
    """The deploy live now: the newest successful deploy or rollback (history newest first)."""
    return next((r for r in history if r.result == "succeeded"), None)


def current_version(history: list[DeployRecord]) -> str | None:
    """The version live now, by the name it was deployed as."""
    live = live_record(history)
    return live.version if live else None


def last_good_before(
    history: list[DeployRecord], *, skip: Collection[str] = ()
) -> DeployRecord | None:
    """The deploy a rollback goes back to, decided on commits (a version is its commit).

    After a failed deploy, the one live before it (unless it is the failing commit);
    otherwise the newest successful deploy of another commit than the live one. Commits in
    ``skip`` (quarantined: they failed verification or were rolled back) are passed over.
    """
    live = live_record(history)
    if live is None:
        return None
    failed = history[0].result != "succeeded"
    failing = history[0].sha if failed else live.sha
    if failed and live.sha not in skip and live.sha != failing:
        return live
    avoid = {*skip, live.sha, failing}
    for record in history:
        if record.result == "succeeded" and record.sha not in avoid:
            return record
    return None
