"""The loop's branches after a deploy: verify it, and when verification fails, quarantine
the version and roll back (at once, or proposed for a click), always through policy. Pure.

``bot.core.probes.verification_for`` says whether a plan is verified at all; the checks run in
the shell (``bot.shell.verification``). Its result arrives as ``verification_finished`` (after a
``version_quarantined`` when it failed).
"""

from bot.core.events import (
    DeployFinished,
    IntentChosen,
    MessageSent,
    PlanProposed,
    TimerFired,
    VerificationFinished,
)
from bot.core.intents import Rollback
from bot.core.probes import ToVerify, verification_for
from bot.core.route import reaches
from bot.core.steps import Apply, Ctx, Pause, Step, Verify
from bot.core.thread import Thread

__all__ = ["is_verification_rollback", "on_verified", "on_verify_timer", "wants_verification"]


def wants_verification(ctx: Ctx, finished: DeployFinished, thread: Thread) -> bool:
    """A deploy (not a rollback) that succeeded, where checks and verify_s are configured."""
    plan = thread.plan(finished.plan_hash)
    if plan is None or plan.kind != "deploy" or finished.result != "succeeded":
        return False
    return isinstance(
        verification_for(ctx.config, service=plan.service, environment=plan.environment),
        ToVerify,
    )


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


def on_verified(thread: Thread, ctx: Ctx, finished: VerificationFinished) -> Step:
    plan = thread.plan(finished.plan_hash)
    assert plan is not None, "verification_finished without its plan"
    if finished.result == "verified":
        return Apply(events=[ctx.say(finished.summary, "result", replaces=finished.message_id)])
    env = ctx.config.environments[plan.environment]
    said = (
        f"{finished.summary} {plan.service} {plan.version} is quarantined in "
        f"{plan.environment}: nothing deploys it there again until an approver releases it."
    )
    rollback = Rollback(service=plan.service, environment=plan.environment)
    events: list[MessageSent | IntentChosen] = [
        ctx.say(said, "error", replaces=finished.message_id)
    ]
    if env.on_verify_failure == "rollback":
        note = f"Rolling {plan.service} in {plan.environment} back to the last good version now."
        events.append(ctx.say(note))
        channel = env.approval_channel
        if channel is not None and not reaches(thread.origin, channel):
            events.append(ctx.say(f"{said} {note}", "error", route=channel))
    else:
        events.append(
            ctx.say(
                f"Proposing a rollback of {plan.service} in {plan.environment} to the last "
                "good version; it runs once it is approved."
            )
        )
    events.append(IntentChosen(id=ctx.new_id(), at=ctx.now, intent=rollback, source="system"))
    return Apply(events=[*events])


def is_verification_rollback(thread: Thread, plan_event: PlanProposed) -> bool:
    """Was this rollback plan made by the bot after a failed verification (not asked for)?"""
    if plan_event.plan.kind != "rollback":
        return False
    for event in reversed(thread.events[: thread.events.index(plan_event)]):
        if isinstance(event, IntentChosen):
            return event.source == "system" and isinstance(event.intent, Rollback)
    return False
