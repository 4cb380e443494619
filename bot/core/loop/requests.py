"""A request in words (a message, a schedule, a webhook): an exact command (the grammar's
fast path) becomes its step at once; anything else goes to the model, with the likely
context pre-fetched (factor 13). Pure."""

from typing import assert_never

from bot.core.loop.approval_steps import (
    on_command,
)
from bot.core.loop.release_steps import on_cancel
from bot.core.loop.steps import (
    Apply,
    Ctx,
    Describe,
    LockEnvironment,
    Prefetch,
    Release,
    Step,
    UnlockEnvironment,
)
from bot.core.policy.approval import Refused, check_requester
from bot.core.reading.commands import (
    ApproveCommand,
    CancelCommand,
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
from bot.core.reading.grammar import parse_command
from bot.core.reading.mentions import mentioned
from bot.core.thread.events import (
    IntentChosen,
)
from bot.core.thread.intents import (
    Deploy,
    Intent,
    ListDeploys,
    Rollback,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import Thread
from bot.core.wording.messages import (
    help_text,
    status_text,
)

__all__ = ["on_request"]


def on_request(thread: Thread, ctx: Ctx, *, actor: Actor, text: str) -> Step:
    config = ctx.config
    command = parse_command(text, services=config.services, environments=config.environments)
    match command:
        case None:
            return Prefetch(services=mentioned(text, config.services, otherwise=5))
        case HelpCommand():
            return Apply(events=[ctx.say(help_text(config))])
        case StatusCommand():  # the thread as it was before it was asked
            before = thread.model_copy(update={"events": thread.events[:-1]})
            return Apply(events=[ctx.say(status_text(before))])
        case ApproveCommand() | RejectCommand():
            return on_command(thread, ctx, actor=actor, command=command)
        case DeployCommand(service=s, environment=e, version=v):
            intent: Intent = Deploy(
                service=s,
                environment=e,
                version=v,
                when_ready=command.when_ready,
                skip_soak=command.skip_soak,
                break_glass=command.break_glass,
            )
            return Apply(events=[_chosen(ctx, intent)])
        case CancelCommand(plan_id=plan_id):
            return on_cancel(thread, ctx, actor=actor, plan_id=plan_id)
        case RollbackCommand(service=s, environment=e, version=v):
            return Apply(events=[_chosen(ctx, Rollback(service=s, environment=e, version=v))])
        case DeploysCommand(service=s, environment=e):
            return Apply(events=[_chosen(ctx, ListDeploys(service=s, environment=e))])
        case LockCommand() | UnlockCommand():
            person = config.person_for(actor)
            if person is None:
                verdict = check_requester(config, actor=actor, asking="lock environments")
                assert isinstance(verdict, Refused)
                return Apply(events=[ctx.say(verdict.reason)])
            if isinstance(command, LockCommand):
                return LockEnvironment(
                    environment=command.environment,
                    reason=command.reason,
                    person=person,
                    actor=actor,
                )
            return UnlockEnvironment(environment=command.environment, person=person, actor=actor)
        case WhereCommand(service=s):
            return Describe(service=s)
        case ReleaseCommand(service=s, version=v, environment=e, reason=why):
            person = config.person_for(actor)
            if person is None:
                verdict = check_requester(config, actor=actor, asking="release")
                assert isinstance(verdict, Refused)
                return Apply(events=[ctx.say(verdict.reason)])
            return Release(
                service=s, version=v, environment=e, reason=why, person=person, actor=actor
            )
        case _:
            assert_never(command)


def _chosen(ctx: Ctx, intent: Intent) -> IntentChosen:
    return IntentChosen(id=ctx.new_id(), at=ctx.now, intent=intent, source="grammar")
