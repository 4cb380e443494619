"""The loop's decision core (factor 8: the switch IS the agent; factor 12: a reducer).

``next_step(thread, ...)`` is pure: it looks at the thread and says what to do next. Steps
that need no I/O carry the events to append (``Apply``); the others name the I/O for the shell
(``bot.shell.loop.turn``) to do, which then appends the result and asks again, until ``Pause``.
"""

from collections.abc import Callable
from datetime import datetime
from typing import assert_never

from bot.core.config.config import Config
from bot.core.loop.aftercare import (
    finish_announcements,
    is_verification_rollback,
    on_verified,
    on_verify_timer,
)
from bot.core.loop.approval_steps import (
    on_decided,
    on_plan,
    on_received,
    on_superseded,
    on_timer,
)
from bot.core.loop.choices import MAX_ERRORS_IN_A_ROW, after_lookup, on_error, on_intent
from bot.core.loop.release_steps import (
    on_queue_left,
    on_queue_moved,
    on_queue_turn,
    on_ready_timer,
)
from bot.core.loop.requests import on_request
from bot.core.loop.steps import (
    Apply,
    CancelElsewhere,
    Ctx,
    Decide,
    Describe,
    Execute,
    LeaveQueue,
    LockEnvironment,
    Lookup,
    Pause,
    Prefetch,
    Recover,
    Release,
    ResolvePlan,
    Step,
    UnlockEnvironment,
    Verify,
)
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    PlanSuperseded,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
    TagsListed,
    TimerFired,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.thread.intents import (
    AskHuman,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread
from bot.core.wording.messages import (
    interrupted_text,
    out_of_tries_text,
    result_text,
)

__all__ = [
    "MAX_ERRORS_IN_A_ROW",
    "MODEL_CALLS_PER_MESSAGE",
    "Apply",
    "CancelElsewhere",
    "Decide",
    "Describe",
    "Execute",
    "LeaveQueue",
    "LockEnvironment",
    "Lookup",
    "Pause",
    "Prefetch",
    "Recover",
    "Release",
    "ResolvePlan",
    "Step",
    "UnlockEnvironment",
    "Verify",
    "next_step",
    "progress_message_id",
]

MODEL_CALLS_PER_MESSAGE = 6


def next_step(
    thread: Thread,
    *,
    config: Config,
    now: datetime,
    new_id: Callable[[], str],
    model_calls_per_message: int = MODEL_CALLS_PER_MESSAGE,
) -> Step:
    step = _next_step(thread, config=config, now=now, new_id=new_id)
    if isinstance(step, Decide) and thread.model_calls_since_request() >= model_calls_per_message:
        # The budget for one message is spent: a person hears so, in words, with the exact
        # command that would do it, instead of the thread going quiet.
        ask = AskHuman(message=out_of_tries_text(thread, config=config))
        return Apply(events=[IntentChosen(id=new_id(), at=now, intent=ask, source="system")])
    return step


def _next_step(thread: Thread, *, config: Config, now: datetime, new_id: Callable[[], str]) -> Step:
    ctx = Ctx(config=config, now=now, new_id=new_id)
    unfinished = thread.unfinished_deploy()
    if unfinished is not None:
        # Only the lease holder runs this, so the worker that started the deploy is gone.
        plan = thread.plan(unfinished.plan_hash)
        if plan is None:  # cannot happen in a thread we wrote; say so rather than guess
            return Apply(
                events=[
                    DeployInterrupted(id=new_id(), at=now, plan_hash=unfinished.plan_hash),
                    ctx.say(interrupted_text(None, unfinished.plan_hash), "error"),
                ]
            )
        return Recover(started=unfinished, plan=plan)
    # A rollback's quarantine of the commit it left is recorded after its result: the
    # result is still what the thread answers (it used to end the turn unsaid).
    skipped = LockChanged | VersionQuarantined
    last = next((e for e in reversed(thread.events) if not isinstance(e, skipped)), None)
    match last:
        case None:
            return Pause()
        case UserMessage(actor=actor, text=text):
            return on_request(thread, ctx, actor=actor, text=text)
        case CronFired(schedule=name, instruction=text):
            return on_request(thread, ctx, actor=Actor.recorded(f"schedule:{name}"), text=text)
        case WebhookReceived(name=name, instruction=text):
            return on_request(thread, ctx, actor=Actor.recorded(f"webhook:{name}"), text=text)
        case TagsListed() | HistoryListed():
            return after_lookup(thread, ctx, last)
        case IntentChosen(intent=intent, source=source):
            return on_intent(thread, ctx, intent=intent, source=source)
        case PlanProposed(plan=plan):
            return on_plan(thread, ctx, plan, confirm=is_verification_rollback(thread, last))
        case DecisionReceived():
            return on_received(thread, ctx, last)
        case ApprovalDecided():
            return on_decided(thread, ctx, last)
        case ErrorRecorded():
            return on_error(thread, ctx, last)
        case TimerFired(kind="verify"):
            return on_verify_timer(thread, ctx, last)
        case TimerFired(kind="ready"):
            return on_ready_timer(thread, ctx, last)
        case TimerFired():
            return on_timer(thread, ctx, last)
        case VerificationFinished():
            return on_verified(thread, ctx, last)
        case PlanSuperseded():
            return on_superseded(thread, ctx, last)
        case QueueMoved():
            return on_queue_moved(thread, ctx, last)
        case QueueTurn():
            return on_queue_turn(thread, ctx, last)
        case QueueLeft(why="superseded"):
            return on_queue_left(thread, ctx, last)
        case DeployFinished():
            plan = thread.plan(last.plan_hash)
            assert plan is not None, "deploy_finished without its plan"
            start = progress_message_id(thread, last.plan_hash)
            said = ctx.say(result_text(plan, last), "result", replaces=start)
            return Apply(events=[said, *finish_announcements(thread, ctx, last)])
        case (
            MessageSent()
            | ApprovalRequested()
            | ApprovalRefused()
            | ApprovalEscalated()
            | DeployInterrupted()
            | LockChanged()
            | DeployStarted()
            | VersionQuarantined()
            | VersionReleased()
            | ReleaseAwaited()
            | DeployQueued()
            | QueueLeft()
        ):
            return Pause()
        case _:
            assert_never(last)


def progress_message_id(thread: Thread, plan_hash: str) -> str | None:
    """The "Deploying ..." message of a plan's deploy (its result replaces it)."""
    started = False
    for event in thread.events:
        if isinstance(event, DeployStarted) and event.plan_hash == plan_hash:
            started = True
        elif started and isinstance(event, MessageSent) and event.purpose == "progress":
            return event.id
    return None
