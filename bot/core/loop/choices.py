"""What follows the agent's choice, or a failure: lookups are done (unless what they would
show is already in the thread), plans are resolved for people allowed to ask, questions and
answers are said, and invalid steps are fed back at most three times in a row. Pure."""

from typing import assert_never

from bot.core.loop.aftercare import cannot_roll_back
from bot.core.loop.steps import (
    Apply,
    Ctx,
    Decide,
    Lookup,
    ResolvePlan,
    Step,
)
from bot.core.policy.approval import Refused, check_requester, check_scope, requester_label
from bot.core.thread.events import (
    CronFired,
    ErrorRecorded,
    HistoryListed,
    IntentChosen,
    TagsListed,
    UserMessage,
    WebhookReceived,
)
from bot.core.thread.intents import (
    AskHuman,
    Deploy,
    Done,
    Intent,
    ListDeploys,
    ListTags,
    Rollback,
)
from bot.core.thread.thread import Thread
from bot.core.wording.messages import (
    deploys_text,
)

__all__ = ["MAX_ERRORS_IN_A_ROW", "after_lookup", "last_intent", "on_error", "on_intent"]

MAX_ERRORS_IN_A_ROW = 3


def on_intent(thread: Thread, ctx: Ctx, *, intent: Intent, source: str) -> Step:
    scope = check_scope(intent, ctx.config)
    if isinstance(scope, Refused):
        return Apply(events=[ctx.error("invalid_intent", scope.reason)])
    match intent:
        case ListTags() | ListDeploys():
            if shown := _already_listed(thread, intent):
                return Apply(events=[ctx.error("invalid_intent", shown)])
            return Lookup(intent=intent)
        case Deploy() | Rollback():
            actor = thread.requester()
            verdict = check_requester(ctx.config, actor=actor)
            if isinstance(verdict, Refused):
                return Apply(events=[ctx.error("refused", verdict.reason)])
            assert actor is not None  # check_requester allows nobody unknown
            requester = requester_label(ctx.config, actor)
            assert requester is not None
            return ResolvePlan(intent=intent, requester=requester)
        case AskHuman(message=message):
            return Apply(events=[ctx.say(message, "question")])
        case Done(message=message):
            return Apply(events=[ctx.say(message, "result")])
        case _:
            assert_never(intent)


def after_lookup(thread: Thread, ctx: Ctx, last: TagsListed | HistoryListed) -> Step:
    """A lookup the grammar asked for is answered directly; otherwise the model goes on."""
    chosen = last_intent(thread)
    if chosen is not None and chosen.source == "grammar" and isinstance(last, HistoryListed):
        return Apply(
            events=[ctx.say(deploys_text(last.service, last.environment, last.deploys), "result")]
        )
    return Decide()


def on_error(thread: Thread, ctx: Ctx, error: ErrorRecorded) -> Step:
    if (step := cannot_roll_back(thread, ctx, error)) is not None:
        return step  # the bot's own rollback after a failed verification: said, not retried
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
            chosen = last_intent(thread)
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


def last_intent(thread: Thread) -> IntentChosen | None:
    """The intent the current step follows from (not crossing a new request)."""
    for event in reversed(thread.events):
        if isinstance(event, IntentChosen):
            return event
        if isinstance(event, UserMessage | CronFired | WebhookReceived):
            return None
    return None
