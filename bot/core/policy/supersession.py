"""A verification belongs to the deploy it judges: a newer deploy of the pair supersedes it.

The choice (invariant 4; docs/after-deploy.md, "A verification belongs to its deploy"): the
pair is *not* held for the length of a verification (often ten minutes). Holding it would
stop the fix a person ships while a bad release is watched, or make it wait without a queue.
Instead,
a verification judges one deploy, named by its idempotency key, and only while that deploy
is the newest one started on its service and environment:

- When a deploy or rollback starts, the pair's newest started deploy is written
  (``StartedDeploy``, bot/shell/world/history.py), in the turn that saves its ``deploy_started``.
- Before every round of checks and again before the verdict, the verification reads it. A
  different key means a newer deploy started: the verification stops as ``superseded``, says
  whose deploy of what took its place, and decides nothing: no quarantine, no rollback.
  Rounds that saw the newer deploy's effects are never counted for the older one.
- Nothing written (Redis lost its data, or a deploy from before this rule) means nobody can
  tell which deploy is live: the verification stops the same way, deciding nothing.
- A rollback, automatic or approved, runs only if the version that failed is still live,
  re-checked under the lock just before it runs (bot/shell/deploy/recheck.py): a verification
  rollback whose version was replaced meanwhile does not run and is not made again.

``standing`` decides; it is pure and worded here.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.policy.approval import Allowed, Refused
from bot.core.thread.plan import Plan
from bot.core.thread.refusals import RollbackNoLongerUndoes
from bot.core.thread.text.outside import Name

__all__ = ["StartedDeploy", "Superseded", "standing", "still_undoes"]


class StartedDeploy(BaseModel):
    """The newest deploy (or rollback) started on a service and environment."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    kind: Literal["deploy", "rollback"]
    version: Name
    requester: Name
    at: datetime
    sha: str | None = None  # its commit (None: started before it was recorded)


class Superseded(BaseModel):
    """The verification stopped without a verdict; ``text`` says why."""

    model_config = ConfigDict(frozen=True)

    text: str
    by: StartedDeploy | None = None


def standing(plan: Plan, *, judged_key: str, newest: StartedDeploy | None) -> Superseded | None:
    """None while the deploy ``judged_key`` is still the newest started on ``plan``'s pair."""
    what = f"Verification of {plan.service} {plan.version} in {plan.environment}"
    if newest is None:
        return Superseded(
            text=f"{what} stopped: I can no longer tell which deploy is live there (the record "
            "of the newest deploy is gone), so it decides nothing: no quarantine, no rollback."
        )
    if newest.idempotency_key == judged_key:
        return None
    verb = "rollback to" if newest.kind == "rollback" else "deploy of"
    return Superseded(
        text=f"{what} stopped: {newest.requester}'s {verb} {newest.version} started there at "
        f"{newest.at:%H:%M:%S} UTC, so this verification decides nothing (no quarantine, no "
        "rollback); the newer deploy is judged on its own.",
        by=newest,
    )


def still_undoes(rollback: Plan, failed: Plan) -> Allowed | Refused:
    """A rollback the bot chose after ``failed``'s verification undoes that deploy only: it
    must have been planned against ``failed``'s commit (its name, for plans made before
    commits were recorded), not against whatever replaced it meanwhile."""
    if rollback.previous_sha is not None:
        same = rollback.previous_sha == failed.sha
    else:
        same = rollback.previous_version == failed.version
    if same:
        return Allowed()
    return Refused(
        why=RollbackNoLongerUndoes(
            environment=rollback.environment,
            now_version=rollback.previous_version,
            failed_version=failed.version,
        )
    )
