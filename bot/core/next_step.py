"""The loop's decision core (factor 8: the switch IS the agent; factor 12: a reducer).

``next_step(thread, ...)`` is pure: it looks at the thread and says what to do next. Steps
that need no I/O carry the events to append (``Apply``); the others name the I/O for the shell
(``bot.shell.turn``) to do, which then appends the result and asks again, until ``Pause``.
"""

from collections.abc import Callable
from datetime import datetime
from typing import assert_never

from bot.core.aftercare import is_verification_rollback, on_verified, on_verify_timer
from bot.core.approval_steps import (
    on_command,
    on_decided,
    on_plan,
    on_received,
    on_superseded,
    on_timer,
)
from bot.core.commands import (
    ApproveCommand,
    DeployCommand,
    DeploysCommand,
    HelpCommand,
    LockCommand,
    RejectCommand,
    ReleaseCommand,
    RollbackCommand,
    StatusCommand,
    UnlockCommand,
    WhereCommand,
)
from bot.core.config import Config
from bot.core.errors import InvalidIntent
from bot.core.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    ErrorRecorded,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    PlanSuperseded,
    TagsListed,
    TimerFired,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.grammar import parse_command
from bot.core.intents import (
    AskHuman,
    Deploy,
    Done,
    Intent,
    ListDeploys,
    ListTags,
    Rollback,
    check_intent,
)
from bot.core.policy import Refused, check_requester, requester_label
from bot.core.steps import (
    Apply,
    ChangeLock,
    Ctx,
    Decide,
    Describe,
    Execute,
    Lookup,
    Pause,
    Prefetch,
    Recover,
    Release,
    ResolvePlan,
    Step,
    Verify,
)
from bot.core.thread import Thread
from bot.core.wording import (
    deploys_text,
    help_text,
    interrupted_text,
    out_of_tries_text,
    result_text,
    status_text,
)

__all__ = [
    "MAX_ERRORS_IN_A_ROW",
    "MODEL_CALLS_PER_MESSAGE",
    "Apply",
    "ChangeLock",
    "Decide",
    "Describe",
    "Execute",
    "Lookup",
    "Pause",
    "Prefetch",
    "Recover",
    "Release",
    "ResolvePlan",
    "Step",
    "Verify",
    "next_step",
    "progress_message_id",
]

MAX_ERRORS_IN_A_ROW = 3


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
            return on_plan(thread, ctx, plan, confirm=is_verification_rollback(thread, last))
        case DecisionReceived():
            return on_received(thread, ctx, last)
        case ApprovalDecided():
            return on_decided(thread, ctx, last)
        case ErrorRecorded():
            return _on_error(thread, ctx, last)
        case TimerFired(kind="verify"):
            return on_verify_timer(thread, ctx, last)
        case TimerFired():
            return on_timer(thread, ctx, last)
        case VerificationFinished():
            return on_verified(thread, ctx, last)
        case PlanSuperseded():
            return on_superseded(thread, ctx, last)
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
            | VersionQuarantined()
            | VersionReleased()
        ):
            return Pause()
        case _:
            assert_never(last)


def _on_request(thread: Thread, ctx: Ctx, *, actor: str, text: str) -> Step:
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
            return on_command(thread, ctx, actor=actor, command=command)
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
        case ReleaseCommand(service=s, version=v, environment=e, reason=why):
            person = config.person_for(actor)
            if person is None:
                verdict = check_requester(config, actor=actor)
                assert isinstance(verdict, Refused)
                return Apply(events=[ctx.say(verdict.reason.replace("request deploys", "release"))])
            return Release(
                service=s, version=v, environment=e, reason=why, person=person, actor=actor
            )
        case _:
            assert_never(command)


def _chosen(ctx: Ctx, intent: Intent) -> IntentChosen:
    return IntentChosen(id=ctx.new_id(), at=ctx.now, intent=intent, source="grammar")


def _on_intent(thread: Thread, ctx: Ctx, *, intent: Intent, source: str) -> Step:
    try:
        check_intent(intent, ctx.config)
    except InvalidIntent as exc:
        return Apply(events=[ctx.error("invalid_intent", str(exc))])
    match intent:
        case ListTags() | ListDeploys():
            if shown := _already_listed(thread, intent):
                return Apply(events=[ctx.error("invalid_intent", shown)])
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


def _after_lookup(thread: Thread, ctx: Ctx, last: TagsListed | HistoryListed) -> Step:
    """A lookup the grammar asked for is answered directly; otherwise the model goes on."""
    chosen = _last_intent(thread)
    if chosen is not None and chosen.source == "grammar" and isinstance(last, HistoryListed):
        return Apply(
            events=[ctx.say(deploys_text(last.service, last.environment, last.deploys), "result")]
        )
    return Decide()


def _on_error(thread: Thread, ctx: Ctx, error: ErrorRecorded) -> Step:
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


def _already_listed(thread: Thread, intent: ListTags | ListDeploys) -> str | None:
    """A lookup whose answer the model already has is no step forward (it is fed back and
    counts as a mistake), so a model cannot spend a message's budget looking things up."""
    for event in thread.since_request():
        match event, intent:
            case TagsListed(service=s), ListTags(service=wanted) if s == wanted:
                return (
                    f"The tags of {s} are already listed above (<tags>); choose the next step "
                    "from them instead of listing them again."
                )
            case HistoryListed(service=s, environment=e), ListDeploys(
                service=ws, environment=we
            ) if (s, e) == (ws, we):
                return (
                    f"The recent deploys of {s} in {e} are already listed above (<deploys>); "
                    "choose the next step instead of listing them again."
                )
            case _:
                continue
    return None


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
