"""The imperative shell around ``bot.loop``: do the I/O a step names, append what happened.

Deploys follow write-ahead order: take the environment lock, save ``deploy_started`` and
claim the plan's idempotency key in one atomic step, run, save ``deploy_finished``, release.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal, Protocol, assert_never

from redis.exceptions import RedisError

from bot.agent import Agent, AgentFailure, Decision
from bot.approvals import closing_messages
from bot.channel import OutboundMessage
from bot.config import Config
from bot.deployer import CommandDeployer, DeployResult
from bot.envlock import EnvLock, LockHolder
from bot.errors import ThreadConflict, ToolFailed
from bot.events import (
    ApprovalDecided,
    ApprovalRequested,
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
)
from bot.history import DeployHistory, current_version
from bot.intents import Deploy, ListDeploys, ListTags, Rollback
from bot.keys import Keys
from bot.lookups import Lookups, Turn, build_plan
from bot.loop import (
    MODEL_CALLS_PER_MESSAGE,
    Apply,
    ChangeLock,
    Decide,
    Describe,
    Execute,
    Lookup,
    Pause,
    Prefetch,
    Recover,
    ResolvePlan,
    next_step,
)
from bot.messages import (
    interrupted_text,
    locked_text,
    progress_text,
    started_text,
    where_text,
)
from bot.outbox import Outbox
from bot.pending import PendingApprovals
from bot.plan import DeployRecord, Plan, Tag
from bot.policy import (
    Allowed,
    Refused,
    check_live_state,
    check_release_interrupted,
    check_unlock,
)
from bot.store import ClaimTaken, ThreadStore
from bot.thread import Thread

__all__ = ["Hold", "Runner"]

log = logging.getLogger("deploybot.runner")

_PREFETCH_TAGS = 5  # enough context for the model; it can list more


class Hold(Protocol):
    """The worker's hold on the thread it is advancing (its lease, kept alive meanwhile)."""

    @property
    def lost(self) -> bool:
        """True once a renewal failed: another worker may have taken the thread over."""
        ...


class Runner:
    def __init__(
        self,
        *,
        config: Config,
        agents: Mapping[str, Agent],
        lookups: Lookups,
        history: DeployHistory,
        env_lock: EnvLock,
        deployer: CommandDeployer,
        store: ThreadStore,
        keys: Keys,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        lock_ttl_ms: int = 30_000,
        lock_wait_s: float = 300,
        max_steps: int = 30,
        outbox: Outbox | None = None,
        progress_every_s: float = 5,
        pending: PendingApprovals,
        model_calls_per_message: int = MODEL_CALLS_PER_MESSAGE,
    ) -> None:
        self.config = config
        self._agents = agents
        self._lookups = lookups
        self._history = history
        self._env_lock = env_lock
        self._deployer = deployer
        self._store = store
        self._keys = keys
        self._clock = clock
        self._new_id = new_id
        self._lock_ttl_ms = lock_ttl_ms
        self._lock_wait_s = lock_wait_s
        self._max_steps = max_steps
        self._outbox = outbox
        self._progress_every_s = progress_every_s
        self._pending = pending
        self._model_calls_per_message = model_calls_per_message

    async def advance(self, thread: Thread, *, hold: Hold) -> set[str]:
        """Run steps until the thread pauses. May save the thread (write-ahead points).

        Returns the ids of messages already handed to the outbox during the turn (a deploy's
        start message goes out as soon as ``deploy_started`` is saved).
        """
        turn = Turn()
        for _ in range(self._max_steps):
            step = next_step(
                thread,
                config=self.config,
                now=self._clock(),
                new_id=self._new_id,
                model_calls_per_message=self._model_calls_per_message,
            )
            match step:
                case Pause():
                    return turn.published
                case Apply(events=events):
                    thread.events.extend(events)
                case Decide():
                    thread.events.append(await self._decide(thread))
                case Prefetch(services=services):
                    thread.events.extend(await self._prefetch(services, turn))
                    thread.events.append(await self._decide(thread))
                case Lookup(intent=intent):
                    thread.events.append(await self._lookup(intent))
                case ResolvePlan():
                    thread.events.append(await self._resolve(step, turn))
                case Execute(plan=plan):
                    await self._execute(thread, plan, hold=hold, turn=turn)
                case Recover():
                    thread.events.extend(await self._recover(step, thread))
                case ChangeLock():
                    thread.events.extend(await self._change_lock(step))
                case Describe(service=service):
                    thread.events.append(await self._describe(service, turn))
                case _:
                    assert_never(step)
        thread.events.append(self._error("tool_failed", "stopped after too many steps"))
        return turn.published

    # -- steps ---------------------------------------------------------------------------

    def _error(
        self, kind: ErrorKind, message: str, *, input_tokens: int = 0, output_tokens: int = 0
    ) -> ErrorRecorded:
        return ErrorRecorded(
            id=self._new_id(),
            at=self._clock(),
            kind=kind,
            message=message,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )

    async def _decide(self, thread: Thread) -> Event:
        agent = self._agents[thread.agent]
        result = await agent.decide(thread)
        match result:
            case Decision():
                return IntentChosen(
                    id=self._new_id(),
                    at=self._clock(),
                    intent=result.intent,
                    source="model",
                    model=result.model,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                )
            case AgentFailure():
                return self._error(
                    result.kind,
                    result.message,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                )
            case _:
                assert_never(result)

    async def _prefetch(self, services: list[str], turn: Turn) -> list[Event]:
        """Factor 13: tags and recent deploys, recorded so the prompt can show them."""
        pairs = [(s, e) for s in services for e in self.config.services[s].environments]
        await self._lookups.fetch(turn, services=services, pairs=pairs)
        events: list[Event] = []
        for service in services:
            found = turn.tags[service]
            if isinstance(found, ToolFailed):
                log.warning("prefetch of %s tags failed: %s", service, found)
            else:
                events.append(
                    TagsListed(
                        id=self._new_id(),
                        at=self._clock(),
                        service=service,
                        tags=found[:_PREFETCH_TAGS],
                    )
                )
            for env in self.config.services[service].environments:
                if deploys := turn.history[(service, env)]:
                    events.append(
                        HistoryListed(
                            id=self._new_id(),
                            at=self._clock(),
                            service=service,
                            environment=env,
                            deploys=deploys,
                        )
                    )
        return events

    async def _lookup(self, intent: ListTags | ListDeploys) -> Event:
        match intent:
            case ListTags(service=service):
                try:
                    tags = await self._lookups.tags(service)
                except ToolFailed as exc:
                    return self._error("tool_failed", str(exc))
                return TagsListed(
                    id=self._new_id(), at=self._clock(), service=service, tags=tags[:10]
                )
            case ListDeploys(service=service, environment=environment):
                deploys = await self._lookups.history(service, environment)
                return HistoryListed(
                    id=self._new_id(),
                    at=self._clock(),
                    service=service,
                    environment=environment,
                    deploys=deploys,
                )
            case _:
                assert_never(intent)

    async def _resolve(self, step: ResolvePlan, turn: Turn) -> Event:
        intent = step.intent
        pair = (intent.service, intent.environment)
        await self._lookups.fetch(turn, services=[intent.service], pairs=[pair])
        if refusal := await self._frozen_for(intent.environment, requester=step.requester):
            return self._error("locked", refusal)
        try:
            plan = build_plan(
                intent,
                tags=turn.tags_of(intent.service),
                history=turn.history[pair],
                requester=step.requester,
            )
        except ToolFailed as exc:
            return self._error("tool_failed", str(exc))
        return PlanProposed(id=self._new_id(), at=self._clock(), plan=plan)

    async def _execute(self, thread: Thread, plan: Plan, *, hold: Hold, turn: Turn) -> None:
        if refusal := await self._frozen_for(plan.environment, requester=plan.requester):
            thread.events.append(
                self._error("locked", f"{refusal} Plan #{plan.short_id} did not run.")
            )
            return
        token = await self._take_lock(thread, plan)
        if token is None:
            return
        if await self._drifted(thread, plan, token=token, turn=turn):
            return
        key = f"{thread.id}:{plan.plan_hash}"
        started = DeployStarted(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            idempotency_key=key,
            fencing_token=token,
        )
        acquired = self._lock_event(plan, "acquired", token)
        approved = _approvers(thread, plan)
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
        thread.events.extend(added)
        try:
            await self._store.save(thread, claim=self._keys.idempotency(thread.id, plan.plan_hash))
        except (ClaimTaken, ThreadConflict) as exc:
            del thread.events[-len(added) :]
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=token
            )
            if isinstance(exc, ThreadConflict):
                raise
            thread.events.append(
                self._error(
                    "refused",
                    f"Plan #{plan.short_id} has already been started once in this "
                    "thread; it is never run twice. Ask for a new deploy if needed.",
                )
            )
            return
        if self._outbox is not None:  # saved: people may see it now, not after the deploy
            await self._outbox.enqueue(thread, starts)
            turn.published.update(m.id for m in starts)
        await self._pending.supersede(thread_id=thread.id, plan=plan, at=self._clock())
        result = await self._run_renewing_lock(thread, plan, key, token, start=start)
        finished = DeployFinished(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            result=result.result,
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            output_tail=result.output_tail,
        )
        if hold.lost:
            # Another worker may have written meanwhile (and said "outcome unknown"): put the
            # real result on top of its version now, rather than lose it at the final save.
            await self._save_finished(thread, finished)
        else:
            thread.events.append(finished)  # saved with the result message, at the turn's end
        await self._record(thread, plan, result=result.result, at=finished.at, token=token)
        thread.events.append(self._lock_event(plan, "released", token))

    async def _record(
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
        record = DeployRecord(
            thread_id=thread.id,
            kind=plan.kind,
            version=plan.version,
            sha=plan.sha,
            requester=plan.requester,
            approvers=_approvers(thread, plan),
            result=result,
            at=at.isoformat(),
        )
        pipe = self._store.pipeline()
        self._history.record_in(
            pipe, service=plan.service, environment=plan.environment, record=record
        )
        if result != "interrupted":
            self._env_lock.release_in(
                pipe, service=plan.service, environment=plan.environment, token=token
            )
        await pipe.execute()

    async def _recover(self, step: Recover, thread: Thread) -> list[Event]:
        """The worker that ran a deploy died before saving its result (invariant 3: never
        run again). Where the answer can be known, record the real result: the history
        (written right after the command exited), else the service's status command asked by
        idempotency key. Otherwise it is interrupted: the thread says so, the history shows
        it, and the environment stays held for this service until a person has looked."""
        plan, started = step.plan, step.started
        now = self._clock()
        history = await self._history.recent(
            service=plan.service, environment=plan.environment, limit=20
        )
        known = next(
            (
                r
                for r in history
                if r.thread_id == thread.id
                and r.kind == plan.kind
                and r.version == plan.version
                and r.sha == plan.sha
                and datetime.fromisoformat(r.at) >= started.at
            ),
            None,
        )
        if known is not None and known.result != "interrupted":
            await self._env_lock.release(
                service=plan.service, environment=plan.environment, token=started.fencing_token
            )
            return [
                self._finished(
                    plan,
                    result=known.result,
                    exit_code=None,
                    duration_s=(datetime.fromisoformat(known.at) - started.at).total_seconds(),
                    note="deploybot: the worker stopped after the command finished; its "
                    "result was read back from the deploy history.",
                ),
                self._lock_event(plan, "released", started.fencing_token),
            ]
        asked = await self._deployer.status(
            plan=plan, idempotency_key=started.idempotency_key, fencing_token=started.fencing_token
        )
        if asked is not None and asked.exit_code in (0, 1):
            result: Literal["succeeded", "failed"] = (
                "succeeded" if asked.exit_code == 0 else "failed"
            )
            await self._record(thread, plan, result=result, at=now, token=started.fencing_token)
            tail = asked.output_tail.strip()
            return [
                self._finished(
                    plan,
                    result=result,
                    exit_code=None,
                    duration_s=(now - started.at).total_seconds(),
                    note="deploybot: the worker stopped during the deploy; the service's "
                    f"status command says it {result}." + (f"\n{tail}" if tail else ""),
                ),
                self._lock_event(plan, "released", started.fencing_token),
            ]
        holder = LockHolder(
            thread_id=thread.id,
            who=plan.requester,
            why=f"interrupted {plan.kind} of {plan.service} {plan.version} (outcome unknown)",
            since=now,
        )
        held = await self._env_lock.hold_interrupted(
            service=plan.service,
            environment=plan.environment,
            token=started.fencing_token,
            holder=holder,
        )
        await self._record(thread, plan, result="interrupted", at=now, token=started.fencing_token)
        text = interrupted_text(plan, plan.plan_hash)
        if asked is not None:
            text += " (Its status command could not tell either.)"
        if held:
            text += (
                f" {plan.environment} stays held for {plan.service} until an approver of "
                f"{plan.environment} has checked it and says 'unlock {plan.environment}'."
            )
        return [
            DeployInterrupted(id=self._new_id(), at=now, plan_hash=plan.plan_hash),
            self._say(text, purpose="error"),
        ]

    def _finished(
        self,
        plan: Plan,
        *,
        result: Literal["succeeded", "failed", "timed_out"],
        exit_code: int | None,
        duration_s: float,
        note: str,
    ) -> DeployFinished:
        return DeployFinished(
            id=self._new_id(),
            at=self._clock(),
            plan_hash=plan.plan_hash,
            result=result,
            exit_code=exit_code,
            duration_s=max(0.0, duration_s),
            output_tail=note,
        )

    async def _drifted(self, thread: Thread, plan: Plan, *, token: int, turn: Turn) -> bool:
        """The live-state re-check (invariant 2), under the lock: True when the plan must not
        run because the world changed since it was made; the thread then says what changed
        and the plan is made again from fresh facts, for a fresh approval."""
        history = await self._history.recent(
            service=plan.service, environment=plan.environment, limit=5
        )
        tags: list[Tag] | None
        try:
            tags = await self._lookups.fresh_tags(plan.service)
        except ToolFailed as exc:
            tags = None
            verdict: Allowed | Refused = Refused(
                reason=f"I could not re-read {plan.service}'s tags to check them ({exc}). "
                "Ask again when the repository answers."
            )
        else:
            verdict = check_live_state(plan, history=history, tags=tags, now=self._clock())
        if isinstance(verdict, Allowed):
            return False
        await self._env_lock.release(
            service=plan.service, environment=plan.environment, token=token
        )
        text = f"Plan #{plan.short_id} did not run: {verdict.reason}"
        if tags is not None:
            text += " It is made again from what is live now, for a fresh approval."
        asked = any(
            isinstance(e, ApprovalRequested) and e.plan_hash == plan.plan_hash
            for e in thread.events
        )
        thread.events.extend(
            closing_messages(
                thread, text=text, purpose="error", now=self._clock(), new_id=self._new_id
            )
            if asked
            else [self._say(text, purpose="error")]
        )
        if tags is None:
            return True
        # Made again from what is true now: a new plan hash, so old approvals cannot count.
        intent: Deploy | Rollback = (
            Deploy(service=plan.service, environment=plan.environment, version=plan.version)
            if plan.kind == "deploy"
            else Rollback(service=plan.service, environment=plan.environment, version=plan.version)
        )
        try:
            again = build_plan(intent, tags=tags, history=history, requester=plan.requester)
        except ToolFailed as exc:  # e.g. now older than what is live: said, not retried
            thread.events.append(self._error("refused", str(exc)))
        else:
            thread.events.append(PlanProposed(id=self._new_id(), at=self._clock(), plan=again))
        return True

    async def _frozen_for(self, environment: str, *, requester: str) -> str | None:
        """Why a deploy by ``requester`` may not go to a locked environment (None: it may)."""
        holder = await self._env_lock.frozen(environment=environment)
        if holder is None or holder.who == requester:
            return None
        return (
            locked_text(environment, who=holder.who, why=holder.why, since=holder.since)
            + f" Ask {holder.who} to 'unlock {environment}' first."
        )

    async def _change_lock(self, step: ChangeLock) -> list[Event]:
        env = step.environment
        now = self._clock()
        current = await self._env_lock.frozen(environment=env)
        if step.lock:
            holder = LockHolder(thread_id="", who=step.person, why=step.reason or "", since=now)
            ok, current = await self._env_lock.freeze(environment=env, holder=holder)
            if not ok:
                text = locked_text(env, who=current.who, why=current.why, since=current.since)
                return [self._say(f"Already: {text}")]
            return [
                LockChanged(
                    id=self._new_id(),
                    at=now,
                    service="*",
                    environment=env,
                    action="acquired",
                    by=step.person,
                    reason=step.reason,
                ),
                self._say(
                    f"{env} is locked by {step.person}"
                    + (f": {step.reason}" if step.reason else "")
                    + f". Deploys there are refused until 'unlock {env}'."
                ),
            ]
        events: list[Event] = []
        released = await self._release_interrupted(step)
        if isinstance(released, Refused):
            if current is None:
                return [self._say(released.reason, to=step.actor)]
        elif released:
            events.append(
                self._say(
                    f"{env} is released for {', '.join(released)} (held after an interrupted "
                    f"deploy), on {step.person}'s word that it was checked.",
                    purpose="result",
                )
            )
        if current is None:
            return events or [self._say(f"{env} is not locked.")]
        verdict = check_unlock(
            self.config, environment=env, person=step.person, locked_by=current.who
        )
        if isinstance(verdict, Refused):
            return [*events, self._say(verdict.reason, to=step.actor)]
        await self._env_lock.unfreeze(environment=env)
        return [
            *events,
            LockChanged(
                id=self._new_id(),
                at=now,
                service="*",
                environment=env,
                action="released",
                by=step.person,
            ),
            self._say(f"{env} is unlocked (it was locked by {current.who}).", purpose="result"),
        ]

    async def _release_interrupted(self, step: ChangeLock) -> list[str] | Refused:
        """``unlock <env>`` also releases services held there after an interrupted deploy.
        Returns the services released, or why this person may not (when one is held)."""
        env = step.environment
        services = [n for n, svc in self.config.services.items() if env in svc.environments]
        held = [
            service
            for service in services
            if (h := await self._env_lock.holder(service=service, environment=env)) is not None
            and h.interrupted
        ]
        if not held:
            return []
        verdict = check_release_interrupted(self.config, environment=env, person=step.person)
        if isinstance(verdict, Refused):
            return verdict
        released = []
        for service in held:
            if await self._env_lock.release_interrupted(service=service, environment=env):
                released.append(service)
        return released

    async def _describe(self, service: str, turn: Turn) -> Event:
        environments = self.config.services[service].environments
        await self._lookups.fetch(turn, services=[], pairs=[(service, e) for e in environments])
        rows: list[tuple[str, str | None, bool, str | None]] = []
        states = await self._env_lock.states(service=service, environments=environments)
        for env, (frozen, busy) in zip(environments, states, strict=True):
            lock: str | None = None
            if frozen is not None:
                lock = "locked by " + frozen.who + (f" ({frozen.why})" if frozen.why else "")
                lock += f" since {frozen.since:%H:%M} UTC"
            elif busy is not None and busy.interrupted:
                lock = (
                    f"held: {busy.why} for {busy.who} since {busy.since:%H:%M} UTC; an "
                    f"approver says 'unlock {env}' once it is checked"
                )
            elif busy is not None:
                lock = f"busy: {busy.why} for {busy.who} since {busy.since:%H:%M} UTC"
            live = current_version(turn.history[(service, env)])
            rows.append((env, live, self.config.environments[env].approval, lock))
        return self._say(where_text(service, rows=rows), purpose="result")

    def _say(self, text: str, *, purpose: Purpose = "info", to: str | None = None) -> MessageSent:
        return MessageSent(id=self._new_id(), at=self._clock(), text=text, purpose=purpose, to=to)

    def _lock_event(
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

    async def _take_lock(self, thread: Thread, plan: Plan) -> int | None:
        """Wait (bounded) while another deploy holds the environment; None if it stays busy."""
        holder = LockHolder(
            thread_id=thread.id,
            who=plan.requester,
            why=f"{plan.kind} {plan.service} {plan.version}",
            since=self._clock(),
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait_s
        wait_s = 0.02
        while True:
            ok, current = await self._env_lock.acquire(
                service=plan.service,
                environment=plan.environment,
                holder=holder,
                ttl_ms=self._lock_ttl_ms,
            )
            if ok:
                return current.fencing_token
            if loop.time() >= deadline or current.interrupted:  # held until a person looks
                thread.events.append(
                    self._error(
                        "locked",
                        (
                            f"{plan.service} in {plan.environment} is busy: {current.why} for "
                            f"{current.who} since {current.since:%H:%M} UTC "
                            f"(thread {current.thread_id})."
                            f" Plan #{plan.short_id} did not run; ask again when it is free."
                        ),
                    )
                )
                return None
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, 0.5)

    async def _run_renewing_lock(
        self, thread: Thread, plan: Plan, key: str, token: int, *, start: MessageSent
    ) -> DeployResult:
        """Run the deploy while keeping its lock (invariant 4). If the lock cannot be kept
        (Redis unreachable for half the lease, or the lock taken away), the command is
        stopped, with all it started, before the lease can run out and anyone else can take
        the lock; the result says why."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        last_line: list[str] = []

        async def on_output(line: str) -> None:
            if line.strip():
                last_line[:] = [line.strip()[:200]]

        done = asyncio.Event()  # a flag as well as cancel(): see _Heartbeat in bot/worker.py
        deploy = asyncio.create_task(
            self._deployer.run(
                plan=plan, idempotency_key=key, fencing_token=token, on_output=on_output
            )
        )
        keeper = asyncio.create_task(self._keep_lock(plan, token, done))
        reporter = asyncio.create_task(
            self._report_progress(
                thread, plan, start=start, began=began, last_line=last_line, done=done
            )
        )
        try:
            await asyncio.wait({deploy, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if deploy.done():
                return deploy.result()
            reason = keeper.result()
            log.error("stopping the deploy of plan %s: %s", plan.short_id, reason)
            deploy.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deploy
            return DeployResult(
                result="failed",
                exit_code=None,
                duration_s=loop.time() - began,
                output_tail=f"deploybot: stopped the command before its lock could expire: "
                f"{reason}. Check {plan.environment}: the deploy did not finish.",
            )
        finally:
            done.set()
            for task in (keeper, reporter):
                task.cancel()
            if not deploy.done():  # we are being cancelled: the deployer stops the command
                deploy.cancel()
                with contextlib.suppress(BaseException):
                    await asyncio.shield(deploy)
            await asyncio.wait({keeper, reporter}, timeout=self._lock_ttl_ms / 1000)

    async def _keep_lock(self, plan: Plan, token: int, done: asyncio.Event) -> str:
        """Renew the deploy's lock every third of its lease until ``done``; ride out Redis
        outages with retries (backoff up to 1 s). Returns why it cannot keep the lock: it was
        taken away, or Redis was unreachable for half the lease (the rest of the lease is the
        time the deployer needs to stop the command)."""
        loop = asyncio.get_running_loop()
        ttl_s = self._lock_ttl_ms / 1000
        last_ok = loop.time()
        wait_s = ttl_s / 3
        while not done.is_set():
            await asyncio.sleep(wait_s)
            if done.is_set():
                break
            try:
                held = await self._env_lock.renew(
                    service=plan.service,
                    environment=plan.environment,
                    token=token,
                    ttl_ms=self._lock_ttl_ms,
                )
            except (RedisError, OSError) as exc:
                unreachable_s = loop.time() - last_ok
                log.warning(
                    "renewing the lock of %s in %s failed (%s); retrying",
                    plan.service,
                    plan.environment,
                    exc,
                )
                if unreachable_s >= ttl_s / 2:
                    return (
                        f"Redis was unreachable for {unreachable_s:.0f} s, so the lock on "
                        f"{plan.service} in {plan.environment} could not be kept"
                    )
                # Retry soon, then back off: 0.1, 0.2, 0.4 ... 1 s.
                wait_s = 0.1 if wait_s >= ttl_s / 3 else min(wait_s * 2, 1.0)
                continue
            if not held:
                return (
                    f"the lock on {plan.service} in {plan.environment} was lost (it "
                    "expired or was removed, e.g. by a Redis restart without persistence)"
                )
            last_ok = loop.time()
            wait_s = ttl_s / 3
        return "the deploy finished"

    async def _report_progress(
        self,
        thread: Thread,
        plan: Plan,
        *,
        start: MessageSent,
        began: float,
        last_line: list[str],
        done: asyncio.Event,
    ) -> None:
        """Edit the "Deploying ..." message every few seconds; a failure is only logged."""
        if self._outbox is None:
            return
        loop = asyncio.get_running_loop()
        while not done.is_set():
            await asyncio.sleep(self._progress_every_s)
            if done.is_set():
                return
            text = progress_text(
                plan, elapsed_s=loop.time() - began, last_line=last_line[0] if last_line else None
            )
            try:
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
            except (RedisError, OSError) as exc:
                log.warning("progress message for thread %s not sent: %s", thread.id, exc)

    async def _save_finished(self, thread: Thread, finished: DeployFinished) -> None:
        """Record the result; if another worker wrote meanwhile, re-append onto its version."""
        thread.events.append(finished)
        for _ in range(5):
            try:
                await self._store.save(thread)
                return
            except ThreadConflict:
                fresh = await self._store.load(thread.id)
                if fresh is None:
                    raise
                fresh.events.append(finished)
                thread.events[:] = fresh.events
                thread.version = fresh.version
        log.error("could not save deploy result for thread %s", thread.id)


def _approvers(thread: Thread, plan: Plan) -> list[str]:
    return [
        e.person
        for e in thread.events
        if isinstance(e, ApprovalDecided)
        and e.plan_hash == plan.plan_hash
        and e.decision == "approve"
    ]
