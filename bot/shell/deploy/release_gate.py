"""Release policy when a plan is made (invariant 9): the freeze windows and the promotion order
and soak (``bot.core.release.gate.check_release_policy`` decides), with what each environment the
plan's one requires knows of its commit read in one round trip (``bot.shell.world.soak``; an
environment without ``requires`` reads nothing).

A plan cleared carries the overrides that cleared it (``break glass``, ``skip soak``: in its
hash, on its card); the notes of where its version stands go beside it, for the approvers.
A plan held is refused with the reason (a schedule's refusal goes to its ``report_to`` and
into the audit like any), or, for ``deploy ... when ready``, waits: ``release_awaited``
names when it is planned again (a durable ``ready`` timer, ``bot.core.policy.timers``).
The same check runs again under the lock before the plan runs (bot/shell/deploy/recheck.py).
"""

from dataclasses import dataclass

from bot.core.policy.approval_posts import closing_messages
from bot.core.ports.inbound import Envelope
from bot.core.release.gate import Held, check_release_policy
from bot.core.release.promotion import SoakFacts
from bot.core.release.queue_words import awaiting_text, release_held_text
from bot.core.thread.events import (
    ApprovalRequested,
    ErrorRecorded,
    Event,
    MessageSent,
    QueueLeft,
    ReleaseAwaited,
)
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.shell.store.keys import text
from bot.shell.world.context import Context
from bot.shell.world.soak import facts_of

__all__ = ["Planned", "ReleaseGate"]


@dataclass(frozen=True, kw_only=True)
class Planned:
    """The plan as policy cleared it, and where its version stands (for the approvers)."""

    plan: Plan
    notes: list[str]


class ReleaseGate:
    def __init__(self, *, context: Context) -> None:
        self._config = context.config
        self._soak = context.soak
        self._store = context.store
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._keys = context.keys
        self._inbound = context.queue

    async def facts(self, plan: Plan) -> dict[str, SoakFacts]:
        """The plan's commit in each environment its own requires (one round trip; none
        when it requires nothing)."""
        required = self._config.environments[plan.environment].requires
        if plan.kind == "rollback" or not required:
            return {}
        pipe = self._store.pipeline()
        for env in required:
            self._soak.of_in(pipe, service=plan.service, environment=env, sha=plan.sha)
        replies = await pipe.execute()
        return {env: facts_of(reply) for env, reply in zip(required, replies, strict=True)}

    async def when_planned(
        self, thread: Thread, plan: Plan, *, intent: Deploy | Rollback, requester: str
    ) -> Planned | list[Event]:
        actor = thread.requester()
        person = self._config.person_for(actor) if actor is not None else None
        now = self._clock()
        verdict = check_release_policy(
            self._config,
            plan=plan,
            facts=await self.facts(plan),
            now=now,
            person=person,
            skip_soak=intent.skip_soak if isinstance(intent, Deploy) else None,
            break_glass=intent.break_glass if isinstance(intent, Deploy) else None,
        )
        if not isinstance(verdict, Held):
            await self._supersede_waits(thread, plan, keep=None)
            cleared = plan.model_copy(update={"overrides": verdict.overrides})
            return Planned(plan=cleared, notes=verdict.notes)
        if isinstance(intent, Deploy) and intent.when_ready and verdict.retry_at is not None:
            text = awaiting_text(verdict.summary or verdict.reason, retry_at=verdict.retry_at)
            awaited = ReleaseAwaited(
                id=self._new_id(),
                at=now,
                intent=intent,
                requester=requester,
                reason=verdict.reason,
                retry_at=verdict.retry_at,
            )
            await self._supersede_waits(thread, plan, keep=awaited.id)
            return [awaited, MessageSent(id=self._new_id(), at=now, text=text, purpose="info")]
        return [ErrorRecorded(id=self._new_id(), at=now, kind="refused", message=verdict.reason)]

    async def _supersede_waits(self, thread: Thread, plan: Plan, *, keep: str | None) -> None:
        """A later request for the same commit (planned now, or waiting: ``keep``, its wait's
        id) ends an older ``when ready`` wait for it in another thread, which is told so.
        One round trip, only where release policy can hold a plan there."""
        env = self._config.environments[plan.environment]
        frozen = any(plan.environment in f.environments for f in self._config.freezes)
        if plan.kind != "deploy" or not (env.requires or frozen):
            return
        key = self._keys.awaiting(plan.service, plan.environment)
        pipe = self._store.pipeline()
        pipe.hget(key, plan.sha)
        if keep is None:
            pipe.hdel(key, plan.sha)
        else:
            pipe.hset(key, plan.sha, f"{thread.id}|{keep}")
        older, _ = await pipe.execute()
        owner, _, awaited = text(older).partition("|") if older else ("", "", "")
        if not owner or owner == thread.id:
            return
        left = QueueLeft(
            id=f"await-left-{awaited}",
            at=self._clock(),
            plan_hash=None,
            why="superseded",
            awaited=awaited,
            by=f"a later request for {plan.service} {plan.version} (thread {thread.id})",
        )
        await self._inbound.publish(Envelope(thread_id=owner, event=left))

    async def at_run(self, thread: Thread, plan: Plan) -> list[Event] | None:
        """Under the lock, just before ``plan`` runs: None when it may; else it does not run,
        every copy of its request is closed with why, and it is planned again when the freeze
        ends or soak allows (a new plan, so a new approval), or refused when time alone will
        not do (a rollback or failure where it must pass first). Only the overrides the plan
        carries count here: nobody adds one to an approved plan."""
        now = self._clock()
        verdict = check_release_policy(
            self._config, plan=plan, facts=await self.facts(plan), now=now, person=None
        )
        if not isinstance(verdict, Held):
            return None
        text = release_held_text(plan, reason=verdict.reason)
        asked = any(
            isinstance(e, ApprovalRequested) and e.plan_hash == plan.plan_hash
            for e in thread.events
        )
        events: list[Event] = (
            list(closing_messages(thread, text=text, purpose="error", now=now, new_id=self._new_id))
            if asked
            else [MessageSent(id=self._new_id(), at=now, text=text, purpose="error")]
        )
        if verdict.retry_at is None or plan.kind != "deploy":
            events.append(
                ErrorRecorded(id=self._new_id(), at=now, kind="refused", message=verdict.reason)
            )
            return events
        again = Deploy(
            service=plan.service, environment=plan.environment, version=plan.version,
            when_ready=True,
        )  # fmt: skip
        events += [
            ReleaseAwaited(
                id=self._new_id(),
                at=now,
                intent=again,
                requester=plan.requester,
                reason=verdict.reason,
                retry_at=verdict.retry_at,
                held=plan.plan_hash,
            ),
            MessageSent(
                id=self._new_id(),
                at=now,
                text=awaiting_text("", retry_at=verdict.retry_at).strip(),
                purpose="info",
            ),
        ]
        return events
