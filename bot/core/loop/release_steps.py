"""The loop's branches for release policy's waits (pure): a ``when ready`` wait coming due, the
pair's queue moving, a queued plan's turn, and ``cancel``.

A thread waits in one of two ways, both ``queued`` (``bot.core.thread.thread.derive_status``):
``release_awaited`` (planned again when its ``ready`` timer fires: soak allows it, a freeze
ended) and ``deploy_queued`` (its plan waits in the pair's queue, ``bot.shell.world.queue``,
and runs when the queue's pump says it is its turn, re-checked under the lock). Whatever
fires for a wait the thread no longer has (cancelled, superseded, moved on) changes
nothing, except that a turn for a plan no longer waiting leaves the queue, so a stale entry
never blocks the plans behind it.
"""

from typing import Literal

from bot.core.loop.steps import (
    Apply,
    CancelElsewhere,
    Ctx,
    Execute,
    LeaveQueue,
    Pause,
    ResolvePlan,
    Step,
)
from bot.core.policy.approval import Refused
from bot.core.release.gate import check_cancel, waiting_deploy
from bot.core.release.queue_words import (
    cancelled_text,
    moved_text,
    nothing_waiting_text,
    superseded_text,
)
from bot.core.thread.events import (
    DeployQueued,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
    TimerFired,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread

__all__ = [
    "on_cancel",
    "on_queue_left",
    "on_queue_moved",
    "on_queue_turn",
    "on_ready_timer",
]


def on_ready_timer(thread: Thread, ctx: Ctx, timer: TimerFired) -> Step:
    """A ``when ready`` wait (or a plan a freeze stopped) comes due: plan it again; the
    release check then says whether it is ready now (else the thread waits again)."""
    before = thread.model_copy(update={"events": thread.events[:-1]})
    wait = before.waiting()
    if not isinstance(wait, ReleaseAwaited) or wait.id != timer.plan_hash:
        return Pause()
    return ResolvePlan(intent=wait.intent, requester=wait.requester)


def on_queue_moved(thread: Thread, ctx: Ctx, moved: QueueMoved) -> Step:
    wait = thread.waiting()
    if not isinstance(wait, DeployQueued) or wait.plan_hash != moved.plan_hash:
        return Pause()
    plan = thread.plan(moved.plan_hash)
    if plan is None:
        return Pause()
    return Apply(events=[ctx.say(moved_text(plan, position=moved.position, behind=moved.behind))])


def on_queue_turn(thread: Thread, ctx: Ctx, turn: QueueTurn) -> Step:
    """First in line and the pair is free: run, re-checked under the lock as any plan is."""
    plan = thread.plan(turn.plan_hash)
    wait = thread.model_copy(update={"events": thread.events[:-1]}).waiting()
    if plan is None:
        return Pause()
    if not isinstance(wait, DeployQueued) or wait.plan_hash != turn.plan_hash:
        return LeaveQueue(plan=plan, events=[])  # stale: never block the plans behind it
    return Execute(plan=plan)


def on_queue_left(thread: Thread, ctx: Ctx, left: QueueLeft) -> Step:
    """Another thread took over this one's wait (through the inbound stream): a plan for
    the same commit took its place in line, or a later request for the same version ended
    its ``when ready``. Said only if it ends the wait the thread is in."""
    before = thread.model_copy(update={"events": thread.events[:-1]})
    wait = before.waiting()
    if left.why != "superseded" or wait is None or not left.ends(wait):
        return Pause()
    plan = thread.plan(wait.plan_hash) if isinstance(wait, DeployQueued) else None
    return Apply(events=[ctx.say(superseded_text(plan, by=left.by), "result")])


def on_cancel(thread: Thread, ctx: Ctx, *, actor: Actor, plan_id: str | None) -> Step:
    """``cancel`` / ``cancel <plan id>``: by the requester or one of the environment's
    approvers; the wait ends and, for a queued plan, its place in the queue."""
    waiting = waiting_deploy(thread)
    plan = waiting.plan if waiting is not None else None
    mine = plan is not None and plan_id is not None and plan.plan_hash.startswith(plan_id)
    if plan_id is not None and not mine:
        return CancelElsewhere(plan_id=plan_id, actor=actor)  # "anywhere": its own thread
    if waiting is None:
        return Apply(events=[ctx.tell(thread, actor, nothing_waiting_text(plan_id))])
    environment, requester = waiting.environment, waiting.requester
    who = ctx.config.person_for(actor)
    verdict = check_cancel(ctx.config, environment=environment, person=who, requester=requester)
    if isinstance(verdict, Refused):
        return Apply(events=[ctx.tell(thread, actor, verdict.reason, "error")])
    why: Literal["cancelled"] = "cancelled"
    left = QueueLeft(
        id=ctx.new_id(),
        at=ctx.now,
        plan_hash=plan.plan_hash if plan is not None else None,
        why=why,
        actor=actor,
    )
    said = ctx.say(cancelled_text(plan, who=who or str(actor)), "result")
    if plan is None:
        return Apply(events=[left, said])
    return LeaveQueue(plan=plan, events=[left, said])
