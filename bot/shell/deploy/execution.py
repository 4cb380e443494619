"""Executing an approved plan: write-ahead, exactly once, one at a time (invariants 2-4, 9).

Take the pair's lock with the pair read under it in the same round trip
(``bot.shell.deploy.under_lock``), the repository's tags read meanwhile; a held pair (or
others first in line) puts the plan in the pair's queue (``bot.shell.deploy.waiting``), a
person's lock gives the grant back at once. Re-check the live state and release policy
under it (drift remakes the plan; a freeze holds it: ``bot.shell.deploy.release_gate``);
save ``deploy_started`` and claim the idempotency key in one atomic step; then, in one round
trip, mark it the pair's newest, hand its start message to the outbox and supersede the
other requests for the pair; run the command while the lock is kept
(``bot.shell.deploy.watch``); save the result, then record it in the history (and for
promotion) and release the lock in one round trip.

Round trips, a deploy that runs: the grant and its reads, the start's save, the start's
writes, the result's save, the history and the release (5; plus one for an environment
with ``requires``, one for a plan leaving the queue). A compare-and-set conflict or a
claimed key on the start's save sends nothing more and gives the lock back.
"""

import asyncio
import logging
from datetime import datetime
from functools import partial
from typing import Literal

from bot.core.errors import ThreadConflict, ToolFailed
from bot.core.policy.approval_posts import closing_messages
from bot.core.policy.deploys import record_of
from bot.core.policy.quarantine import after_deploy, quarantined_event
from bot.core.release.announcements import announce
from bot.core.release.promotion import soak_writes_after_deploy
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
from bot.core.thread.plan import Plan, Tag
from bot.core.thread.thread import Thread
from bot.core.wording.deploys import (
    already_started_text,
    under_replicated_tail,
)
from bot.core.wording.messages import started_text
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.prior_runs import PriorRuns
from bot.shell.deploy.recheck import LiveCheck, LiveState, tags_or_error
from bot.shell.deploy.release_gate import ReleaseGate
from bot.shell.deploy.under_lock import Busy, LockedReads, frozen_text
from bot.shell.deploy.waiting import WaitingLine, queued_in
from bot.shell.deploy.watch import DeployWatch
from bot.shell.store.redis_faults import through_outages
from bot.shell.store.threads import ClaimTaken
from bot.shell.world.context import Context
from bot.shell.world.lookups import TurnMemo, cache_tags_in
from bot.shell.world.turn_reads import forget

__all__ = ["Executor"]

log = logging.getLogger("deploybot.execution")


class Executor:
    def __init__(
        self,
        *,
        context: Context,
        watch: DeployWatch,
        recheck: LiveCheck,
        prior: PriorRuns,
        interruptions: Interruptions,
    ) -> None:
        self._announce = partial(announce, config=context.config, new_id=context.clock.new_id)
        self._store = context.store
        self._keys = context.keys
        self._env_lock = context.env_lock
        self._history = context.history
        self._outbox = context.outbox
        self._pending = context.pending
        self._quarantine = context.quarantine
        self._config = context.config
        self._soak = context.soak
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._replicas = context.limits.redis_replicas
        self._replicas_timeout_ms = context.limits.redis_wait_ms
        self._watch = watch
        self._recheck = recheck
        self._reads = LockedReads(context=context)
        self._queue = context.line
        self._gate = ReleaseGate(context=context)
        self._line = WaitingLine(context=context, queue=context.line)
        self._prior = prior
        self._interruptions = interruptions

    async def execute(self, thread: Thread, plan: Plan, *, memo: TurnMemo) -> None:
        # The repository's tags, read while the lock is taken and the pair read under it.
        git = asyncio.ensure_future(tags_or_error(self._recheck.repo_tags(plan.service)))
        try:
            await self._execute(thread, plan, memo=memo, git=git)
        finally:
            if not git.done():  # the plan stopped before the re-check
                git.cancel()
            elif not git.cancelled() and (failed := git.exception()) is not None:
                log.debug("the repository's tags of %s: %s", plan.service, failed)  # unused
            forget(memo, service=plan.service, environment=plan.environment)

    async def _execute(
        self,
        thread: Thread,
        plan: Plan,
        *,
        memo: TurnMemo,
        git: "asyncio.Future[list[Tag] | ToolFailed]",
    ) -> None:
        taken = await self._reads.take(thread, plan)
        if isinstance(taken, Busy):  # another deploy holds the pair, or others wait first
            return thread.events.extend(await self._line.join(thread, plan, taken))
        if isinstance(taken, str):  # locked by a person, or quiet after a data loss
            thread.events.append(self._error("locked", taken))
            return
        token, seen, waited = taken.token, taken.seen, taken.waited
        if queued_in(thread, plan) is not None:  # its turn came: it leaves the line
            await self._queue.leave(thread.id, plan)
        if (refusal := frozen_text(plan, seen.frozen)) is not None:
            # A person locked it after the plan was made: the grant is given back at once.
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=token
            )
            thread.events.append(self._error("locked", refusal))
            return
        key = f"{thread.id}:{plan.plan_hash}"  # a restored thread's plan may have run already
        ran = await self._prior.already_ran(
            thread, plan, key=key, token=token, history=seen.history
        )
        if ran is not None:
            return thread.events.extend(ran)
        # Read before the grant only when it came at the first try; else read again now.
        tags = await (tags_or_error(self._recheck.repo_tags(plan.service)) if waited else git)
        live = LiveState(history=seen.recent, quarantined=seen.quarantined, tags=tags)
        fresh = None if isinstance(tags, ToolFailed) else tags
        drifted = await self._recheck.drift(thread, plan, live=live)
        if drifted is None:  # release policy, re-checked under the lock like drift
            drifted = await self._gate.at_run(thread, plan)
        if drifted is not None:
            pipe = self._store.pipeline()
            self._env_lock.release_in(
                pipe, service=plan.service, environment=plan.environment, token=token
            )
            cache_tags_in(
                pipe, keys=self._keys, service=plan.service, tags=fresh, cached=seen.cached_tags
            )
            await pipe.execute()
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
        told = self._announce(thread, plan=plan, moment="started", now=started.at)
        added: list[Event] = [acquired, started, *starts, *told]
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
        # Saved, so in one round trip: the newest started on the pair (a verification of an
        # older deploy of it stops here), the start message (people may see it now), the
        # other requests for the pair superseded, the tags cache if the tags changed.
        pipe = self._store.pipeline()
        self._history.started_in(pipe, plan, idempotency_key=key, at=started.at)
        self._outbox.enqueue_in(pipe, thread, [*starts, *told])
        self._pending.supersede_in(
            pipe, thread_id=thread.id, plan=plan, at=self._clock(), waiting=seen.waiting
        )
        cache_tags_in(
            pipe, keys=self._keys, service=plan.service, tags=fresh, cached=seen.cached_tags
        )
        await pipe.execute()
        memo.published.update(m.id for m in [*starts, *told])
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
        """The deploy's line in the history, what it means for promotion, and its lock
        released (kept, if interrupted), in one round trip."""
        record = record_of(thread, plan, result=result, at=at)
        pipe = self._store.pipeline()
        self._history.record_in(
            pipe, service=plan.service, environment=plan.environment, record=record
        )
        soak = soak_writes_after_deploy(self._config, plan, result=result, at=at)
        self._soak.write_in(pipe, service=plan.service, environment=plan.environment, writes=soak)
        if result != "interrupted":
            self._env_lock.release_in(
                pipe, service=plan.service, environment=plan.environment, token=token
            )
        await pipe.execute()

    def lock_event(
        self, plan: Plan, action: Literal["acquired", "released"], token: int
    ) -> LockChanged:
        return LockChanged(
            id=self._new_id(), at=self._clock(), service=plan.service,
            environment=plan.environment, action=action, fencing_token=token,
        )  # fmt: skip

    def _error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self._new_id(), at=self._clock(), kind=kind, message=message)
