"""Verifying a version just deployed (issue: close the loop), in its own turn.

A durable ``verify`` timer, queued when the deploy's result was saved, brings the thread
back here (``bot.core.loop.aftercare``). The "Verifying ..." message is saved and sent first, then
edited as the rounds go (``bot.shell.verify.checks`` runs the checks); a failed verification
quarantines the version before the thread hears of it, so nothing can deploy it again
meanwhile. The reducer then decides what follows (a rollback, through policy).

A verification judges only its own deploy: before every round and before the verdict it asks
the history for the pair's newest started deploy, and once that is another one it stops as
``superseded`` and decides nothing (bot/core/policy/supersession.py).
"""

from collections.abc import Sequence

from bot.core.policy.quarantine import after_verification, quarantined_event
from bot.core.policy.supersession import Superseded, standing
from bot.core.policy.verification import ToVerify, verification_for, verification_result
from bot.core.ports.outbound import OutboundMessage
from bot.core.release.promotion import soak_writes_after_verification
from bot.core.thread.events import Event, MessageSent, VerificationFinished
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.verification import start_text
from bot.shell.verify.checks import Verifier
from bot.shell.world.context import Context

__all__ = ["Verification"]


class Verification:
    def __init__(self, *, context: Context, verifier: Verifier) -> None:
        self._config = context.config
        self._history = context.history
        self._store = context.store
        self._outbox = context.outbox
        self._quarantine = context.quarantine
        self._soak = context.soak
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._verifier = verifier

    async def run(self, thread: Thread, plan: Plan, *, published: set[str]) -> Sequence[Event]:
        """Verify ``plan``'s version; the events that say how it went (appended by the turn).
        ``published``: ids of messages already handed to the outbox (added to here)."""
        wanted = verification_for(self._config, service=plan.service, environment=plan.environment)
        if not isinstance(wanted, ToVerify):
            return []
        start = MessageSent(
            id=self._new_id(),
            at=self._clock(),
            purpose="progress",
            text=start_text(plan, checks=len(wanted.checks), verify_s=wanted.verify_s),
        )
        # Saved and sent before the (long) verification, as a deploy's start message is.
        candidate = thread.model_copy(update={"events": [*thread.events, start]})
        await self._store.save(candidate)
        thread.events.append(start)
        thread.version = candidate.version
        await self._outbox.enqueue(thread, [start])
        published.add(start.id)

        async def progress(text: str) -> None:
            await self._outbox.send_transient(
                OutboundMessage(
                    thread_id=thread.id,
                    message_id=self._new_id(),
                    origin=thread.origin,
                    text=text,
                    purpose="progress",
                    replaces=start.id,
                )
            )

        key = f"{thread.id}:{plan.plan_hash}"

        async def still_current() -> Superseded | None:
            newest = await self._history.newest_started(
                service=plan.service, environment=plan.environment
            )
            return standing(plan, judged_key=key, newest=newest)

        outcome = await self._verifier.verify(
            plan,
            checks=wanted.checks,
            verify_s=wanted.verify_s,
            on_progress=progress,
            idempotency_key=key,
            still_current=still_current,
        )
        now = self._clock()
        finished = VerificationFinished(
            id=self._new_id(),
            at=now,
            plan_hash=plan.plan_hash,
            result=verification_result(outcome),
            summary=outcome.text,
            message_id=start.id,
        )
        soak = soak_writes_after_verification(plan, result=finished.result, at=now)
        await self._soak.write(service=plan.service, environment=plan.environment, writes=soak)
        entry = after_verification(plan, outcome, at=now)
        if entry is None:
            return [finished]
        # Stored before the thread hears of it: nothing deploys the version meanwhile.
        await self._quarantine.add(service=plan.service, environment=plan.environment, entry=entry)
        quarantined = quarantined_event(
            entry,
            service=plan.service,
            environment=plan.environment,
            event_id=self._new_id(),
            at=now,
        )
        return [quarantined, finished]
