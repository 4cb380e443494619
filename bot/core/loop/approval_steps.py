"""The loop's branches for approvals: asking for one, a decision arriving, its timers. Pure.

Who may decide is ``bot.core.policy.approval``; where requests and answers are posted is
``bot.core.policy.approval_posts``; these functions put the two together into the next step.
A request's messages carry its card as data (``bot.core.wording.cards``), recorded here.
"""

from datetime import timedelta
from typing import Literal, assert_never

from bot.core.loop.steps import Apply, Ctx, Execute, Pause, Step
from bot.core.policy.approval import (
    Allowed,
    NotOpen,
    Refused,
    check_decision_on,
    confirmers,
    eligible_approvers,
    has_quorum,
    needs_approval,
)
from bot.core.policy.approval_posts import escalation, everywhere, requests_for
from bot.core.reading.commands import ApproveCommand, RejectCommand
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRefused,
    ApprovalRequested,
    DecisionReceived,
    DeployStarted,
    PlanProposed,
    PlanSuperseded,
    TimerFired,
)
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread
from bot.core.wording.cards import cards_for
from bot.core.wording.messages import approval_progress_text, rejected_text

__all__ = [
    "on_command",
    "on_decided",
    "on_decision",
    "on_plan",
    "on_received",
    "on_superseded",
    "on_timer",
]


def on_command(
    thread: Thread, ctx: Ctx, *, actor: Actor, command: ApproveCommand | RejectCommand
) -> Step:
    """A typed ``approve [plan id]`` / ``reject [#plan id] reason`` in the conversation."""
    decision: Literal["approve", "reject"] = (
        "approve" if isinstance(command, ApproveCommand) else "reject"
    )
    reason = command.reason if isinstance(command, RejectCommand) else None
    return on_decision(
        thread, ctx, actor=actor, decision=decision, plan_ref=command.plan_id, reason=reason
    )


def on_received(thread: Thread, ctx: Ctx, received: DecisionReceived) -> Step:
    """A decision a channel delivered as data (a button, a reply token, the API)."""
    return on_decision(
        thread,
        ctx,
        actor=received.actor,
        decision=received.decision,
        plan_ref=received.plan_hash,
        reason=received.reason,
    )


def on_decision(
    thread: Thread,
    ctx: Ctx,
    *,
    actor: Actor,
    decision: Literal["approve", "reject"],
    plan_ref: str | None,
    reason: str | None,
) -> Step:
    verdict = check_decision_on(
        thread, config=ctx.config, actor=actor, decision=decision, plan_ref=plan_ref, now=ctx.now
    )
    match verdict:
        case NotOpen(open_plan=None):
            why = _why_not_open(thread, plan_ref) if plan_ref else None
            text = why or "Nothing in this thread is waiting for approval."
            return Apply(events=[ctx.tell(thread, actor, text)])
        case NotOpen(open_plan=open_plan):
            assert open_plan is not None
            assert plan_ref is not None
            return Apply(
                events=[
                    ctx.tell(
                        thread,
                        actor,
                        f"Plan #{plan_ref[:4]} is no longer waiting for a decision "
                        f"(superseded by #{open_plan.short_id}); nothing was changed.",
                    )
                ]
            )
        case Refused(reason=why):
            return Apply(
                events=[
                    ApprovalRefused(id=ctx.new_id(), at=ctx.now, actor=actor, reason=why),
                    ctx.tell(thread, actor, why, "error"),
                ]
            )
        case Allowed():
            person = ctx.config.person_for(actor)
            open_approval = thread.open_approval()
            assert person is not None
            assert open_approval is not None
            plan = open_approval.plan
            return Apply(
                events=[
                    ApprovalDecided(
                        id=ctx.new_id(),
                        at=ctx.now,
                        plan_hash=plan.plan_hash,
                        actor=actor,
                        person=person,
                        decision=decision,
                        reason=reason if decision == "reject" else None,
                    )
                ]
            )
        case _:
            assert_never(verdict)


def on_decided(thread: Thread, ctx: Ctx, decided: ApprovalDecided) -> Step:
    plan = thread.plan(decided.plan_hash)
    assert plan is not None, "approval_decided without its plan"
    if decided.decision == "reject":
        text = rejected_text(plan, person=decided.person, reason=decided.reason)
        return Apply(events=[*ctx.close_request(thread, text, "result")])
    open_approval = thread.open_approval()
    if open_approval is None:
        return Pause()
    if has_quorum(open_approval):
        return Execute(plan=plan)
    needed = open_approval.request.min_approvals
    waiting = open_approval.waiting_on()
    return Apply(
        events=[
            ctx.say(
                approval_progress_text(
                    plan, approved_by=open_approval.approved_by, needed=needed, waiting_on=waiting
                )
            )
        ]
    )


def on_plan(thread: Thread, ctx: Ctx, plan: Plan, *, confirm: bool = False) -> Step:
    """``confirm``: a rollback the bot proposed after a failed verification; where rollbacks
    need no approval it still waits for one person's word, unless the environment says
    ``on_verify_failure = "rollback"`` (then it runs at once, as policy allows)."""
    if thread.started(plan.plan_hash):  # the shell proposes a new attempt; never run again
        return Apply(
            events=[
                ctx.error(
                    "refused",
                    f"Plan #{plan.short_id} has already been started once in this thread; "
                    "it is never run twice. Ask for the deploy again.",
                )
            ]
        )
    env = ctx.config.environments[plan.environment]
    if needs_approval(env, kind=plan.kind):
        approvers, needed = eligible_approvers(env, requester=plan.requester), env.min_approvals
    elif confirm and env.on_verify_failure == "propose":
        approvers, needed = confirmers(ctx.config, env), 1
    else:
        return Execute(plan=plan)
    request = ApprovalRequested(
        id=ctx.new_id(),
        at=ctx.now,
        plan_hash=plan.plan_hash,
        approvers=approvers,
        min_approvals=needed,
        expires_at=ctx.now + timedelta(seconds=env.approval_timeout_s),
    )
    if len(approvers) < needed:
        return Apply(
            events=[
                ctx.error(
                    "refused",
                    f"{plan.environment} needs {needed} approvals but only "
                    f"{len(approvers)} approver(s) other than {plan.requester} exist; "
                    "fix the config.",
                )
            ]
        )
    asks = requests_for(
        thread, config=ctx.config, plan=plan, request=request, now=ctx.now, new_id=ctx.new_id
    )
    return Apply(events=cards_for(thread, [request, *asks]))


def on_timer(thread: Thread, ctx: Ctx, timer: TimerFired) -> Step:
    """A reminder or an expiry, for a request that may have been decided meanwhile."""
    # As the thread was before this event (an expire event itself closes the request).
    before = thread.model_copy(update={"events": thread.events[:-1]})
    open_approval = before.open_approval()
    if open_approval is None or open_approval.plan.plan_hash != timer.plan_hash:
        return Pause()  # decided, superseded or deployed meanwhile: nothing to say
    if has_quorum(open_approval):
        return Pause()  # approved; its deploy did not start (a lock): nobody is waited on
    plan, request = open_approval.plan, open_approval.request
    if timer.kind == "escalate":
        env = ctx.config.environments[plan.environment]
        if env.escalation_after_s is None:
            return Pause()  # the config no longer escalates
        widened = escalation(
            before, env=env, config=ctx.config, open_approval=open_approval, now=ctx.now,
            new_id=ctx.new_id,
        )  # fmt: skip
        return Apply(events=cards_for(thread, widened))
    if timer.kind == "remind":
        text = (
            f"Reminder: plan #{plan.short_id} ({plan.describe()}) is waiting for "
            f"approval from {', '.join(open_approval.waiting_on())}; it expires at "
            f"{request.expires_at:%H:%M} UTC."
        )
        reminders = everywhere(
            before, text=text, purpose="question", now=ctx.now, new_id=ctx.new_id
        )
        return Apply(events=[*reminders])
    text = (
        f"Plan #{plan.short_id} expired at {request.expires_at:%H:%M} UTC without enough "
        f"approvals. Nothing was deployed; ask again if it is still wanted."
    )
    return Apply(events=[*ctx.close_request(before, text, "result")])


def on_superseded(thread: Thread, ctx: Ctx, superseded: PlanSuperseded) -> Step:
    """Another plan for the pair ran: close this thread's request for the old one, if open."""
    before = thread.model_copy(update={"events": thread.events[:-1]})
    open_approval = before.open_approval()
    if open_approval is None or open_approval.plan.plan_hash != superseded.plan_hash:
        return Pause()  # decided, expired or replaced meanwhile: nothing to close
    plan = open_approval.plan
    text = (
        f"Plan #{plan.short_id} ({plan.describe()}) is superseded: {superseded.by}. "
        "This request no longer counts and nothing was deployed; ask again if it is "
        "still wanted."
    )
    return Apply(events=[*ctx.close_request(before, text, "result")])


def _why_not_open(thread: Thread, plan_id: str) -> str | None:
    """Why a decision naming plan ``plan_id`` came too late, from what the thread recorded."""
    hashes = [e.plan.plan_hash for e in thread.events if isinstance(e, PlanProposed)]
    plan_hash = next((h for h in reversed(hashes) if h.startswith(plan_id.lower())), None)
    if plan_hash is None:
        return None
    short = plan_hash[:4]
    for event in reversed(thread.events):
        match event:
            case DeployStarted(plan_hash=h) if h == plan_hash:
                return f"Plan #{short} was already approved and deployed; nothing was changed."
            case ApprovalDecided(plan_hash=h, decision="reject", person=person) if h == plan_hash:
                return f"Plan #{short} was rejected by {person}; nothing was changed."
            case TimerFired(kind="expire", plan_hash=h) if h == plan_hash:
                return f"Plan #{short} expired at {event.at:%H:%M} UTC; nothing was changed."
            case PlanSuperseded(plan_hash=h, by=by) if h == plan_hash:
                return f"Plan #{short} was superseded ({by}); nothing was changed."
            case _:
                continue
    return f"Plan #{short} is no longer waiting for a decision; nothing was changed."
