"""Executing an approved plan: write-ahead, exactly once, one at a time (invariants 2-4).

Take the environment's lock (waiting a bounded time); re-check the live state under it
(``bot.core.policy.live.check_live_state``: the plan is made again if the world changed); save
``deploy_started`` and claim the plan's idempotency key in one atomic step; mark it the pair's
newest (a verification of an older deploy stops: bot/core/policy/supersession.py); tell the other
waiting requests for the pair they are superseded; run the command while the lock is kept
(``bot.shell.deploy.watch``); record the result in the history and release the lock.
"""

import logging
from datetime import datetime
from typing import Literal

from bot.core.errors import ThreadConflict
from bot.core.policy.approval_posts import closing_messages
from bot.core.policy.deploys import record_of
from bot.core.policy.quarantine import after_deploy, quarantined_event
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.events import (
    DeployFinished,
    DeployStarted,
    ErrorKind,
    ErrorRecorded,
    Event,
    LockChanged,
    MessageSent,
)
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import (
    already_started_text,
    busy_text,
    frozen_not_run_text,
    lock_for_text,
    under_replicated_tail,
)
from bot.core.wording.messages import quiet_text, started_text
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.prior_runs import PriorRuns
from bot.shell.deploy.recheck import LiveCheck
from bot.shell.deploy.watch import DeployWatch
from bot.shell.lock.lease import LockHolder
from bot.shell.store.redis_faults import through_outages
from bot.shell.store.threads import ClaimTaken
from bot.shell.world.context import Context
from bot.shell.world.environments import EnvironmentDesk
from bot.shell.world.lookups import TurnMemo

__all__ = ["Executor"]

log = logging.getLogger("deploybot.execution")


class Executor:
    def __init__(
        self,
        *,
        context: Context,
        desk: EnvironmentDesk,
        watch: DeployWatch,
        recheck: LiveCheck,
        prior: PriorRuns,
        interruptions: Interruptions,
    ) -> None:
        self._store = context.store
        self._keys = context.keys
        self._env_lock = context.env_lock
        self._history = context.history
        self._outbox = context.outbox
        self._pending = context.pending
        self._quarantine = context.quarantine
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._lock_ttl_ms = context.limits.lock_ttl_ms
        self._lock_wait_s = context.limits.lock_wait_s
        self._replicas = context.limits.redis_replicas
        self._replicas_timeout_ms = context.limits.redis_wait_ms
        self._desk = desk
        self._watch = watch
        self._recheck = recheck
        self._prior = prior
        self._interruptions = interruptions

    async def execute(self, thread: Thread, plan: Plan, *, memo: TurnMemo) -> None:
        if refusal := await self._desk.frozen_for(plan.environment, requester=plan.requester):
            thread.events.append(self._error("locked", frozen_not_run_text(plan, refusal=refusal)))
            return
        token = await self._take_lock(thread, plan)
        if token is None:
            return
        key = f"{thread.id}:{plan.plan_hash}"  # a restored thread's plan may have run already
        if (ran := await self._prior.already_ran(thread, plan, key=key, token=token)) is not None:
            return thread.events.extend(ran)
        if (drifted := await self._recheck.drift(thread, plan)) is not None:
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=token
            )
            thread.events.extend(drifted)
            return
        started = DeployStarted(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            idempotency_key=key,
            fencing_token=token,
        )
        acquired = self.lock_event(plan, "acquired", token)
        approved = thread.approvers_of(plan.plan_hash)
        text = started_text(plan, approved_by=approved, at=self._clock())
        # Approved: the request's message becomes this one, in the thread and in every other
        # channel it was posted to (only the thread's own copy then shows progress).
        starts = (
            closing_messages(
                thread, text=text, purpose="progress", now=self._clock(), new_id=self._new_id
            )
            if approved
            else [MessageSent(id=self._new_id(), at=self._clock(), purpose="progress", text=text)]
        )
        start = starts[0]
        added: list[Event] = [acquired, started, *starts]
        # Built, saved, and only then part of the thread: nothing to undo if the save fails.
        candidate = thread.model_copy(update={"events": [*thread.events, *added]})
        try:
            acked = await self._store.save(
                candidate,
                claim=self._keys.idempotency(thread.id, plan.plan_hash),
                replicas=self._replicas,
                replicas_timeout_ms=self._replicas_timeout_ms,
            )
        except (ClaimTaken, ThreadConflict) as exc:
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=token
            )
            if isinstance(exc, ThreadConflict):
                raise
            thread.events.append(self._error("refused", already_started_text(plan)))
            return
        thread.events.extend(added)
        thread.version = candidate.version
        # Before the command runs: a verification of an older deploy of the pair stops here.
        await self._history.started(plan, idempotency_key=key, at=started.at)
        await self._outbox.enqueue(thread, starts)  # saved: people may see it now
        memo.published.update(m.id for m in starts)
        await self._pending.supersede(thread_id=thread.id, plan=plan, at=self._clock())
        if acked < self._replicas:
            # A failover to a replica without this claim could run the plan again: it does
            # not run at all. A person asks again (a new attempt) once Redis is healthy.
            result: DeployResult | OutcomeUnknown = DeployResult(
                result="failed",
                exit_code=None,
                duration_s=0,
                output_tail=under_replicated_tail(
                    acked=acked, replicas=self._replicas, timeout_ms=self._replicas_timeout_ms
                ),
            )
        else:
            result = await self._watch.run(thread, plan, key, token, start=start)
        if isinstance(result, OutcomeUnknown):  # it may go on out of sight: held for a person
            held = await self._interruptions.unknown(thread, plan, token=token, outcome=result)
            await through_outages(lambda: self._store.save_adding(thread, held), what="result")
            return
        finished = DeployFinished(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            result=result.result,
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            output_tail=result.output_tail,
            link=result.link,
        )
        # Saved now, through Redis outages (the command is done; its result must not be
        # lost to a blip), and on top of another worker's version if one wrote meanwhile.
        await through_outages(lambda: self._store.save_adding(thread, [finished]), what="result")
        await through_outages(
            lambda: self.record(thread, plan, result=result.result, at=finished.at, token=token),
            what="history",
        )
        thread.events.append(self.lock_event(plan, "released", token))
        # The version a rollback rolled back from: nothing deploys it again by accident.
        now = self._clock()
        entry = after_deploy(plan, result=result.result, at=now)
        if entry is not None and await self._quarantine.add(
            service=plan.service, environment=plan.environment, entry=entry
        ):  # False: quarantined already (by its failed verification), the first reason stays
            thread.events.append(
                quarantined_event(
                    entry,
                    service=plan.service,
                    environment=plan.environment,
                    event_id=self._new_id(),
                    at=now,
                )
            )

    async def record(
        self,
        thread: Thread,
        plan: Plan,
        *,
        result: Literal["succeeded", "failed", "timed_out", "interrupted"],
        at: datetime,
        token: int,
    ) -> None:
        """The deploy's line in the history, and its lock released (kept, if interrupted),
        in one round trip."""
        record = record_of(thread, plan, result=result, at=at)
        pipe = self._store.pipeline()
        self._history.record_in(
            pipe, service=plan.service, environment=plan.environment, record=record
        )
        if result != "interrupted":
            self._env_lock.release_in(
                pipe, service=plan.service, environment=plan.environment, token=token
            )
        await pipe.execute()

    async def _take_lock(self, thread: Thread, plan: Plan) -> int | None:
        """Wait (bounded) while another deploy holds the environment; None if it stays busy."""
        holder = LockHolder(
            thread_id=thread.id,
            who=plan.requester,
            why=lock_for_text(plan),
            since=self._clock(),
        )
        ok, current = await self._env_lock.acquire_within(
            service=plan.service,
            environment=plan.environment,
            holder=holder,
            ttl_ms=self._lock_ttl_ms,
            wait_s=self._lock_wait_s,
        )
        if ok:
            return current.fencing_token
        if (until := current.quiet_until) is not None:  # Redis lost its data: dataloss.py
            thread.events.append(self._error("locked", quiet_text(plan, until=until)))
            return None
        busy = busy_text(
            plan,
            who=current.who,
            why=current.why,
            since=current.since,
            thread_id=current.thread_id,
        )
        thread.events.append(self._error("locked", busy))
        return None

    def lock_event(
        self, plan: Plan, action: Literal["acquired", "released"], token: int
    ) -> LockChanged:
        return LockChanged(
            id=self._new_id(),
            at=self._clock(),
            service=plan.service,
            environment=plan.environment,
            action=action,
            fencing_token=token,
        )

    def _error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self._new_id(), at=self._clock(), kind=kind, message=message)
