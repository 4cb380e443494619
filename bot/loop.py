"""The loop's decision core (factor 8: the switch IS the agent; factor 12: a reducer).

``next_step(thread, ...)`` is pure: it looks at the thread and says what to do next. Steps
that need no I/O carry the events to append (``Apply``); the others name the I/O for the shell
(``bot.runner``) to do, which then appends the result and asks again, until ``Pause``.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from bot.approvals import (
    closing_messages,
    escalation,
    everywhere,
    reply_route,
    requests_for,
)
from bot.commands import (
    ApproveCommand,
    DeployCommand,
    DeploysCommand,
    HelpCommand,
    LockCommand,
    RejectCommand,
    RollbackCommand,
    StatusCommand,
    UnlockCommand,
    WhereCommand,
)
from bot.config import Config
from bot.errors import InvalidIntent
from bot.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    ErrorKind,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    Purpose,
    TagsListed,
    TimerFired,
    UserMessage,
    WebhookReceived,
)
from bot.grammar import parse_command
from bot.intents import (
    AskHuman,
    Deploy,
    Done,
    Intent,
    ListDeploys,
    ListTags,
    Rollback,
    check_intent,
)
from bot.messages import (
    approval_progress_text,
    deploys_text,
    help_text,
    interrupted_text,
    rejected_text,
    result_text,
    status_text,
)
from bot.plan import Plan
from bot.policy import (
    Allowed,
    Refused,
    check_decision,
    check_requester,
    eligible_approvers,
    needs_approval,
    requester_label,
)
from bot.thread import Thread

__all__ = [
    "MAX_ERRORS_IN_A_ROW",
    "Apply",
    "ChangeLock",
    "Decide",
    "Describe",
    "Execute",
    "Lookup",
    "Pause",
    "Prefetch",
    "ResolvePlan",
    "Step",
    "next_step",
    "progress_message_id",
]

MAX_ERRORS_IN_A_ROW = 3


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True)


class Apply(_Step):
    """Append these events (no I/O needed), then ask again."""

    events: list[Event]


class Decide(_Step):
    """Ask the thread's agent for the next intent."""


class Prefetch(_Step):
    """Record the likely context (tags, recent deploys) before the model reads the thread."""

    services: list[str]


class Lookup(_Step):
    intent: ListTags | ListDeploys


class ResolvePlan(_Step):
    """Turn a deploy/rollback intent into an exact plan (tag -> sha, current version)."""

    intent: Deploy | Rollback
    requester: str


class Execute(_Step):
    plan: Plan


class ChangeLock(_Step):
    """A person locks (``lock production <reason>``) or unlocks a whole environment."""

    environment: str
    lock: bool
    reason: str | None
    person: str
    actor: str


class Describe(_Step):
    """``where can I deploy backend``: environments, live versions, approvals, locks."""

    service: str


class Pause(_Step):
    """Nothing more to do until something new arrives."""


Step = Apply | Decide | Prefetch | Lookup | ResolvePlan | Execute | ChangeLock | Describe | Pause


class _Ctx:
    """What every branch needs: the config, the time and a source of event ids."""

    def __init__(self, *, config: Config, now: datetime, new_id: Callable[[], str]) -> None:
        self.config = config
        self.now = now
        self.new_id = new_id

    def say(
        self,
        text: str,
        purpose: Purpose = "info",
        *,
        to: str | None = None,
        replaces: str | None = None,
        route: str | None = None,
    ) -> MessageSent:
        return MessageSent(
            id=self.new_id(),
            at=self.now,
            text=text,
            purpose=purpose,
            to=to,
            replaces=replaces,
            route=route,
        )

    def tell(self, thread: Thread, actor: str, text: str, purpose: Purpose = "info") -> MessageSent:
        """A message for ``actor`` alone, in the channel they answered from."""
        return self.say(text, purpose, to=actor, route=reply_route(thread, actor))

    def close_request(self, thread: Thread, text: str, purpose: Purpose) -> list[MessageSent]:
        return closing_messages(
            thread, text=text, purpose=purpose, now=self.now, new_id=self.new_id
        )

    def error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self.new_id(), at=self.now, kind=kind, message=message)


def next_step(thread: Thread, *, config: Config, now: datetime, new_id: Callable[[], str]) -> Step:
    ctx = _Ctx(config=config, now=now, new_id=new_id)
    unfinished = thread.unfinished_deploy()
    if unfinished is not None:
        # Only the lease holder runs this, so the worker that started the deploy is gone.
        plan = thread.plan(unfinished.plan_hash)
        return Apply(
            events=[
                DeployInterrupted(id=new_id(), at=now, plan_hash=unfinished.plan_hash),
                ctx.say(interrupted_text(plan, unfinished.plan_hash), "error"),
            ]
        )
    last = next((e for e in reversed(thread.events) if not isinstance(e, LockChanged)), None)
    match last:
        case None:
            return Pause()
        case UserMessage(actor=actor, text=text):
            return _on_request(thread, ctx, actor=actor, text=text)
        case CronFired(schedule=name, instruction=text):
            return _on_request(thread, ctx, actor=f"schedule:{name}", text=text)
        case WebhookReceived(name=name, instruction=text):
            return _on_request(thread, ctx, actor=f"webhook:{name}", text=text)
        case TagsListed() | HistoryListed():
            return _after_lookup(thread, ctx, last)
        case IntentChosen(intent=intent, source=source):
            return _on_intent(thread, ctx, intent=intent, source=source)
        case PlanProposed(plan=plan):
            return _on_plan(thread, ctx, plan)
        case ApprovalDecided():
            return _on_decided(thread, ctx, last)
        case ErrorRecorded():
            return _on_error(thread, ctx, last)
        case TimerFired():
            return _on_timer(thread, ctx, last)
        case DeployFinished():
            plan = thread.plan(last.plan_hash)
            assert plan is not None, "deploy_finished without its plan"
            start = progress_message_id(thread, last.plan_hash)
            return Apply(events=[ctx.say(result_text(plan, last), "result", replaces=start)])
        case (
            MessageSent()
            | ApprovalRequested()
            | ApprovalRefused()
            | ApprovalEscalated()
            | DeployInterrupted()
            | LockChanged()
            | DeployStarted()
        ):
            return Pause()
        case _:
            assert_never(last)


def _on_request(thread: Thread, ctx: _Ctx, *, actor: str, text: str) -> Step:
    config = ctx.config
    command = parse_command(text, services=config.services, environments=config.environments)
    match command:
        case None:
            mentioned = [s for s in sorted(config.services) if s in text.lower()]
            return Prefetch(services=mentioned or sorted(config.services)[:5])
        case HelpCommand():
            return Apply(events=[ctx.say(help_text(config))])
        case StatusCommand():
            return Apply(events=[ctx.say(status_text(thread))])
        case ApproveCommand() | RejectCommand():
            return _on_decision(thread, ctx, actor=actor, command=command)
        case DeployCommand(service=s, environment=e, version=v):
            intent: Intent = Deploy(service=s, environment=e, version=v)
            return Apply(events=[_chosen(ctx, intent)])
        case RollbackCommand(service=s, environment=e, version=v):
            return Apply(events=[_chosen(ctx, Rollback(service=s, environment=e, version=v))])
        case DeploysCommand(service=s, environment=e):
            return Apply(events=[_chosen(ctx, ListDeploys(service=s, environment=e))])
        case LockCommand() | UnlockCommand():
            person = config.person_for(actor)
            if person is None:
                verdict = check_requester(config, actor=actor)
                assert isinstance(verdict, Refused)
                return Apply(
                    events=[ctx.say(verdict.reason.replace("request deploys", "lock environments"))]
                )
            return ChangeLock(
                environment=command.environment,
                lock=isinstance(command, LockCommand),
                reason=command.reason if isinstance(command, LockCommand) else None,
                person=person,
                actor=actor,
            )
        case WhereCommand(service=s):
            return Describe(service=s)
        case _:
            assert_never(command)


def _chosen(ctx: _Ctx, intent: Intent) -> IntentChosen:
    return IntentChosen(id=ctx.new_id(), at=ctx.now, intent=intent, source="grammar")


def _on_decision(
    thread: Thread, ctx: _Ctx, *, actor: str, command: ApproveCommand | RejectCommand
) -> Step:
    open_approval = thread.open_approval()
    if open_approval is None:
        why = _why_not_open(thread, command.plan_id) if command.plan_id else None
        text = why or "Nothing in this thread is waiting for approval."
        return Apply(events=[ctx.tell(thread, actor, text)])
    plan = open_approval.plan
    if command.plan_id and not plan.plan_hash.startswith(command.plan_id.lower()):
        return Apply(
            events=[
                ctx.tell(
                    thread,
                    actor,
                    f"Plan #{command.plan_id[:4]} is no longer waiting for a decision "
                    f"(superseded by #{plan.short_id}); nothing was changed.",
                )
            ]
        )
    decision: Literal["approve", "reject"] = (
        "approve" if isinstance(command, ApproveCommand) else "reject"
    )
    verdict = check_decision(
        config=ctx.config,
        open_approval=open_approval,
        actor=actor,
        decision=decision,
        now=ctx.now,
    )
    match verdict:
        case Refused(reason=why):
            return Apply(
                events=[
                    ApprovalRefused(id=ctx.new_id(), at=ctx.now, actor=actor, reason=why),
                    ctx.tell(thread, actor, why, "error"),
                ]
            )
        case Allowed():
            person = ctx.config.person_for(actor)
            assert person is not None
            reason: str | None = command.reason if isinstance(command, RejectCommand) else None
            return Apply(
                events=[
                    ApprovalDecided(
                        id=ctx.new_id(),
                        at=ctx.now,
                        plan_hash=plan.plan_hash,
                        actor=actor,
                        person=person,
                        decision=decision,
                        reason=reason,
                    )
                ]
            )
        case _:
            assert_never(verdict)


def _on_decided(thread: Thread, ctx: _Ctx, decided: ApprovalDecided) -> Step:
    plan = thread.plan(decided.plan_hash)
    assert plan is not None, "approval_decided without its plan"
    if decided.decision == "reject":
        text = rejected_text(plan, person=decided.person, reason=decided.reason)
        return Apply(events=[*ctx.close_request(thread, text, "result")])
    open_approval = thread.open_approval()
    if open_approval is None:
        return Pause()
    needed = open_approval.request.min_approvals
    if len(set(open_approval.approved_by)) >= needed:
        return Execute(plan=plan)
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


def _on_intent(thread: Thread, ctx: _Ctx, *, intent: Intent, source: str) -> Step:
    try:
        check_intent(intent, ctx.config)
    except InvalidIntent as exc:
        return Apply(events=[ctx.error("invalid_intent", str(exc))])
    match intent:
        case ListTags() | ListDeploys():
            return Lookup(intent=intent)
        case Deploy() | Rollback():
            actor = thread.requester() or "unknown:unknown"
            verdict = check_requester(ctx.config, actor=actor)
            if isinstance(verdict, Refused):
                return Apply(events=[ctx.error("refused", verdict.reason)])
            requester = requester_label(ctx.config, actor)
            assert requester is not None
            return ResolvePlan(intent=intent, requester=requester)
        case AskHuman(message=message):
            return Apply(events=[ctx.say(message, "question")])
        case Done(message=message):
            return Apply(events=[ctx.say(message, "result")])
        case _:
            assert_never(intent)


def _after_lookup(thread: Thread, ctx: _Ctx, last: TagsListed | HistoryListed) -> Step:
    """A lookup the grammar asked for is answered directly; otherwise the model goes on."""
    chosen = _last_intent(thread)
    if chosen is not None and chosen.source == "grammar" and isinstance(last, HistoryListed):
        return Apply(
            events=[ctx.say(deploys_text(last.service, last.environment, last.deploys), "result")]
        )
    return Decide()


def _on_plan(thread: Thread, ctx: _Ctx, plan: Plan) -> Step:
    env = ctx.config.environments[plan.environment]
    if not needs_approval(env):
        return Execute(plan=plan)
    approvers = eligible_approvers(env, requester=plan.requester)
    request = ApprovalRequested(
        id=ctx.new_id(),
        at=ctx.now,
        plan_hash=plan.plan_hash,
        approvers=approvers,
        min_approvals=env.min_approvals,
        expires_at=ctx.now + timedelta(seconds=env.approval_timeout_s),
    )
    if len(approvers) < env.min_approvals:
        return Apply(
            events=[
                ctx.error(
                    "refused",
                    f"{plan.environment} needs {env.min_approvals} approvals but only "
                    f"{len(approvers)} approver(s) other than {plan.requester} exist; "
                    "fix the config.",
                )
            ]
        )
    asks = requests_for(thread, config=ctx.config, plan=plan, request=request, say=ctx.say)
    return Apply(events=[request, *asks])


def _on_error(thread: Thread, ctx: _Ctx, error: ErrorRecorded) -> Step:
    match error.kind:
        case "model_unavailable":
            return Apply(
                events=[
                    ctx.say(
                        f"I couldn't reach Claude ({error.message}). Nothing was deployed. "
                        "Try again in a moment, or use an exact command (type 'help').",
                        "error",
                    )
                ]
            )
        case "locked" | "refused":
            return Apply(events=[ctx.say(error.message, "error")])
        case "invalid_output" | "invalid_intent" | "tool_failed":
            chosen = _last_intent(thread)
            if chosen is not None and chosen.source == "grammar":
                return Apply(events=[ctx.say(error.message, "error")])
            if thread.consecutive_errors() >= MAX_ERRORS_IN_A_ROW:
                ask = AskHuman(
                    message=(
                        f"I couldn't work out a valid next step after {MAX_ERRORS_IN_A_ROW} tries "
                        f"(last problem: {error.message[:200]}). Nothing was deployed. Could you "
                        "rephrase, or use an exact command (type 'help')?"
                    )
                )
                return Apply(
                    events=[IntentChosen(id=ctx.new_id(), at=ctx.now, intent=ask, source="system")]
                )
            return Decide()
        case _:
            assert_never(error.kind)


def _on_timer(thread: Thread, ctx: _Ctx, timer: TimerFired) -> Step:
    """A reminder or an expiry, for a request that may have been decided meanwhile."""
    # As the thread was before this event (an expire event itself closes the request).
    before = thread.model_copy(update={"events": thread.events[:-1]})
    open_approval = before.open_approval()
    if open_approval is None or open_approval.plan.plan_hash != timer.plan_hash:
        return Pause()  # decided, superseded or deployed meanwhile: nothing to say
    if len(set(open_approval.approved_by)) >= open_approval.request.min_approvals:
        return Pause()  # approved; its deploy did not start (a lock): nobody is waited on
    plan, request = open_approval.plan, open_approval.request
    if timer.kind == "escalate":
        env = ctx.config.environments[plan.environment]
        if env.escalation_after_s is None:
            return Pause()  # the config no longer escalates
        return Apply(
            events=[
                *escalation(
                    before,
                    env=env,
                    config=ctx.config,
                    open_approval=open_approval,
                    now=ctx.now,
                    new_id=ctx.new_id,
                )
            ]
        )
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
            case _:
                continue
    return f"Plan #{short} is no longer waiting for a decision; nothing was changed."


def progress_message_id(thread: Thread, plan_hash: str) -> str | None:
    """The "Deploying ..." message of a plan's deploy (its result replaces it)."""
    started = False
    for event in thread.events:
        if isinstance(event, DeployStarted) and event.plan_hash == plan_hash:
            started = True
        elif started and isinstance(event, MessageSent) and event.purpose == "progress":
            return event.id
    return None


def _last_intent(thread: Thread) -> IntentChosen | None:
    """The intent the current step follows from (not crossing a new request)."""
    for event in reversed(thread.events):
        if isinstance(event, IntentChosen):
            return event
        if isinstance(event, UserMessage | CronFired | WebhookReceived):
            return None
    return None
