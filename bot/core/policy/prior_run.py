"""Has this plan already run? Asked just before it runs (invariant 3, across Redis data loss).

A thread restored from an older copy of Redis (a crash with RDB snapshots alone or
``appendfsync no``, a failover to a replica that missed the last writes) can be back at
"awaiting approval" for a plan that already ran: its ``deploy_started`` and its idempotency
claim were lost with it, so a second approval would run it again. Just before a plan runs,
under its pair's lock, the places that may still know are asked, by idempotency key (thread
id + plan hash):

1. the deploy history (``from_history``): written by the worker that ran the plan, possibly
   after Redis came back (the run was still going when the data was lost);
2. else the target (``from_status``): the service's ``status`` command (exit 0: that key
   succeeded, 1: it failed, 2: it started and has no result; 3 or anything else: it does not
   know the key) or the GitHub workflow run dispatched with the key.

A key that ran, with any result or interrupted, is not run again: the thread gets what was
recorded ("already ran at ..., result ..."), its start is put back
(``already_ran_events``) so no approval counts for that plan again, and asking again makes
a new attempt. When the history and the target both cannot say (no status command, and
Redis lost the history too), nothing can tell and the plan runs: appendonly is what makes
"at most once" hold then (docs/operations.md). Pure.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.policy.approval_posts import closing_messages
from bot.core.thread.deploy_result import DeployResult
from bot.core.thread.events import DeployInterrupted, DeployStarted, ErrorRecorded, Event
from bot.core.thread.plan import DeployRecord, Plan
from bot.core.thread.text.outside import Url
from bot.core.thread.thread import Thread

__all__ = [
    "PriorRun",
    "already_ran_events",
    "already_ran_text",
    "from_history",
    "from_status",
]

Result = Literal["succeeded", "failed", "timed_out", "interrupted"]


class PriorRun(BaseModel):
    """What is known of an earlier run of a plan's idempotency key, and who said so."""

    model_config = ConfigDict(frozen=True)

    result: Result
    source: Literal["history", "status", "workflow"]
    at: datetime | None = None  # when it finished (the history knows)
    link: Url | None = None  # the workflow run


def from_history(history: list[DeployRecord], *, key: str) -> PriorRun | None:
    """The newest history record of ``key`` (records written before keys were kept have
    none, and never match)."""
    record = next((r for r in history if r.idempotency_key == key), None)
    if record is None:
        return None
    return PriorRun(result=record.result, source="history", at=datetime.fromisoformat(record.at))


def from_status(asked: DeployResult | None) -> PriorRun | None:
    """The target's answer for a key: a workflow run found by the key (``link``) ran, with
    its result; a status command's exit code says 0 succeeded, 1 failed, 2 started without a
    result. Anything else (3, a status command that failed to run, none configured) does not
    know the key."""
    if asked is None:
        return None
    if asked.link is not None:
        return PriorRun(result=asked.result, source="workflow", link=asked.link)
    match asked.exit_code:
        case 0:
            return PriorRun(result="succeeded", source="status")
        case 1:
            return PriorRun(result="failed", source="status")
        case 2:
            return PriorRun(result="interrupted", source="status")
        case _:
            return None


_OUTCOME: dict[Result, str] = {
    "succeeded": "succeeded",
    "failed": "failed",
    "timed_out": "timed out",
    "interrupted": "its outcome is unknown (it was interrupted)",
}


def already_ran_text(plan: Plan, prior: PriorRun, *, held: bool) -> str:
    """What the thread says instead of running ``plan`` again."""
    when = f" at {prior.at:%Y-%m-%d %H:%M} UTC" if prior.at is not None else ""
    match prior.source:
        case "history":
            said = "the deploy history says so"
        case "status":
            said = "its service's status command says so, asked by the plan's idempotency key"
        case "workflow":
            said = f"the workflow run it dispatched says so: {prior.link}"
    done = "started" if prior.result == "interrupted" else "ran"
    joint = ", and" if prior.result == "interrupted" else " and"
    text = (
        f"Plan #{plan.short_id} ({plan.describe()}) already {done}{when}{joint} "
        f"{_OUTCOME[prior.result]} ({said}). This thread had lost its record of that run "
        "(Redis lost data), so it is not run again and no approval counts for it again."
    )
    if held:
        text += (
            f" {plan.environment} stays held for {plan.service} until an approver of "
            f"{plan.environment} has checked it and says 'unlock {plan.environment}'."
        )
    return text + " Ask for the deploy again if a new run is wanted."


def already_ran_events(
    thread: Thread,
    plan: Plan,
    prior: PriorRun,
    *,
    key: str,
    token: int,
    held: bool,
    now: datetime,
    new_id: Callable[[], str],
) -> list[Event]:
    """The plan's start put back (so it counts as started: its approval is used up, and a
    new request is a new attempt), closed as interrupted for this thread (the result it
    recorded was lost; the history and the target keep the real one, said in the text), the
    refusal for the audit, and the text wherever the approval request was posted."""
    text = already_ran_text(plan, prior, held=held)
    return [
        DeployStarted(
            id=new_id(), at=now, plan_hash=plan.plan_hash, idempotency_key=key, fencing_token=token
        ),
        DeployInterrupted(id=new_id(), at=now, plan_hash=plan.plan_hash),
        ErrorRecorded(id=new_id(), at=now, kind="refused", message=text),
        *closing_messages(
            thread,
            text=text,
            purpose="error" if prior.result != "succeeded" else "result",
            now=now,
            new_id=new_id,
        ),
    ]
