"""The loop's branches after a deploy: verify it, and when verification fails, quarantine
the version and roll back (at once, or proposed for a click), always through policy. Pure.

``bot.core.policy.verification.verification_for`` says whether a plan is verified at all; the
checks run in
the shell (``bot.shell.verify.after_deploy``). Its result arrives as ``verification_finished``
(after a ``version_quarantined`` when it failed).

Nothing to roll back to is an answer, not a question for the model: when the failed deploy
was the first to its environment (its plan had no live version before it) no rollback is
planned at all; when the rollback cannot be planned or run for another reason (every earlier
version quarantined, a tag gone, a frozen environment), the thread says so. Either way it
says what a person can do and ends ``failed`` (bot/core/thread/thread.py), never waiting for a
reply nobody was asked for.

Each deploy's end and verdict are also announced where its environment says
(``bot.core.release.announcements``), recorded with the thread's own message about it; the
bot's rollback after a failed verification, once it succeeded, also marks the deploy it
undid as rolled back.
"""

from bot.core.config.route import reaches
from bot.core.loop.steps import Apply, Ctx, Pause, Step, Verify
from bot.core.release.announcements import Moment, announce
from bot.core.thread.events import (
    CronFired,
    DeployFinished,
    DeployStarted,
    ErrorRecorded,
    IntentChosen,
    MessageSent,
    PlanProposed,
    TimerFired,
    UserMessage,
    VerificationFinished,
    WebhookReceived,
)
from bot.core.thread.intents import Rollback
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.verification import no_rollback_text

__all__ = [
    "announced",
    "cannot_roll_back",
    "finish_announcements",
    "is_verification_rollback",
    "on_verified",
    "on_verify_timer",
    "rolls_back",
]


def on_verify_timer(thread: Thread, ctx: Ctx, timer: TimerFired) -> Step:
    """Verify the deploy of ``timer.plan_hash`` once, if it is still the thread's newest
    finished deploy and succeeded."""
    plan = thread.plan(timer.plan_hash)
    if plan is None:
        return Pause()
    finished = [e for e in thread.events if isinstance(e, DeployFinished)]
    if not finished or finished[-1].plan_hash != timer.plan_hash:
        return Pause()  # another deploy in this thread came after it
    if finished[-1].result != "succeeded":
        return Pause()
    if any(
        isinstance(e, VerificationFinished) and e.plan_hash == timer.plan_hash
        for e in thread.events
    ):
        return Pause()  # verified already (a redelivered timer)
    return Verify(plan=plan)


def announced(thread: Thread, ctx: Ctx, plan: Plan, moment: Moment) -> list[MessageSent]:
    """``plan``'s announcement at ``moment``, if its environment announces (else none)."""
    return announce(
        thread, config=ctx.config, plan=plan, moment=moment, now=ctx.now, new_id=ctx.new_id
    )


def finish_announcements(thread: Thread, ctx: Ctx, finished: DeployFinished) -> list[MessageSent]:
    """The announcements of a deploy's result: its own; and when it is the bot's rollback
    after a failed verification and it succeeded, the undone deploy's (rolled back)."""
    plan = thread.plan(finished.plan_hash)
    if plan is None:
        return []
    told = announced(thread, ctx, plan, finished.result)
    if finished.result == "succeeded" and (undone := rolls_back(thread, plan)) is not None:
        told += announced(thread, ctx, undone, "rolled_back")
    return told


def on_verified(thread: Thread, ctx: Ctx, finished: VerificationFinished) -> Step:
    plan = thread.plan(finished.plan_hash)
    assert plan is not None, "verification_finished without its plan"
    if finished.result == "superseded":  # decides nothing, and announces nothing
        return Apply(events=[ctx.say(finished.summary, "result", replaces=finished.message_id)])
    if finished.result == "verified":
        told = ctx.say(finished.summary, "result", replaces=finished.message_id)
        return Apply(events=[told, *announced(thread, ctx, plan, "verified")])
    env = ctx.config.environments[plan.environment]
    verdict = finished.summary.rstrip(". ") + "."
    channel = env.approval_channel
    to_channel = (
        env.on_verify_failure == "rollback"
        and channel is not None
        and not reaches(thread.origin, channel)
    )
    if plan.previous_version is None:  # the first deploy there: no rollback is planned
        first = (
            f"Nothing to roll back to: there was no successful deploy of {plan.service} to "
            f"{plan.environment} before {plan.version}."
        )
        text = f"{verdict} {no_rollback_text(plan, first)}"
        events = [ctx.say(text, "error", replaces=finished.message_id)]
        if to_channel:
            events.append(ctx.say(text, "error", route=channel))
        return Apply(events=[*events, *announced(thread, ctx, plan, "verification_failed")])
    said = (
        f"{verdict} {plan.service} {plan.version} is quarantined in {plan.environment}: "
        "nothing deploys it there again until an approver releases it."
    )
    rollback = Rollback(service=plan.service, environment=plan.environment)
    events = [ctx.say(said, "error", replaces=finished.message_id)]
    # What it rolls back to is said once it is known: the rollback's own start message,
    # or its approval request (or, if there is none, why: ``cannot_roll_back``).
    if to_channel:
        note = "A rollback to the last good version follows, where there is one."
        events.append(ctx.say(f"{said} {note}", "error", route=channel))
    events += announced(thread, ctx, plan, "verification_failed")
    intent = IntentChosen(id=ctx.new_id(), at=ctx.now, intent=rollback, source="system")
    return Apply(events=[*events, intent])  # the intent last: the loop goes on from it


def cannot_roll_back(thread: Thread, ctx: Ctx, error: ErrorRecorded) -> Step | None:
    """The rollback the bot chose after a failed verification could not be planned or run
    (``error``): the thread hears why and what a person can do, instead of the model being
    asked (or the help text shown). None when ``error`` is about something else."""
    failed = _failed_verification_before_rollback(thread)
    if failed is None:
        return None
    headline = (
        f"The rollback of {failed.service} in {failed.environment} cannot run: {error.message}"
    )
    return Apply(events=[ctx.say(no_rollback_text(failed, headline), "error")])


def _failed_verification_before_rollback(thread: Thread) -> Plan | None:
    """The plan whose failed verification made the bot choose the rollback that is the
    thread's current step (None when the current step is anything else)."""
    chosen: IntentChosen | None = None
    for event in reversed(thread.events):
        if isinstance(event, IntentChosen) and chosen is None:
            if event.source != "system" or not isinstance(event.intent, Rollback):
                return None
            chosen = event
        elif isinstance(event, VerificationFinished) and chosen is not None:
            return thread.plan(event.plan_hash) if event.result == "failed" else None
        elif isinstance(event, UserMessage | CronFired | WebhookReceived | DeployStarted):
            return None  # a new request, or the rollback ran (its result speaks)
    return None


def is_verification_rollback(thread: Thread, plan_event: PlanProposed) -> bool:
    """Was this rollback plan made by the bot after a failed verification (not asked for)?"""
    if plan_event.plan.kind != "rollback":
        return False
    for event in reversed(thread.events[: thread.events.index(plan_event)]):
        if isinstance(event, IntentChosen):
            return event.source == "system" and isinstance(event.intent, Rollback)
    return False


def rolls_back(thread: Thread, plan: Plan) -> Plan | None:
    """The deploy whose failed verification ``plan`` (a rollback the bot chose) undoes; None
    for any other plan. Such a rollback may only roll back that deploy's commit."""
    proposed = next(
        (
            e
            for e in reversed(thread.events)
            if isinstance(e, PlanProposed) and e.plan.plan_hash == plan.plan_hash
        ),
        None,
    )
    if proposed is None or not is_verification_rollback(thread, proposed):
        return None
    for event in reversed(thread.events[: thread.events.index(proposed)]):
        if isinstance(event, VerificationFinished):
            return thread.plan(event.plan_hash) if event.result == "failed" else None
    return None
