"""The turn: the loop around ``bot.core.loop.next_step.next_step`` that does the I/O each step
names.

``Runner.advance`` asks the pure reducer for the next step, does it (ask the agent, look
things up, resolve a plan), appends what happened and asks again, until the thread pauses.
Executing a plan is ``bot.shell.deploy.execution``; a deploy whose worker died is
``bot.shell.deploy.recovery``; ``lock``/``unlock``/``where`` are ``bot.shell.world.environments``.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from bot.core.errors import ToolFailed
from bot.core.loop.next_step import (
    Apply,
    CancelElsewhere,
    Decide,
    Describe,
    Execute,
    LeaveQueue,
    LockEnvironment,
    Lookup,
    Pause,
    Prefetch,
    Recover,
    Release,
    ResolvePlan,
    UnlockEnvironment,
    Verify,
    next_step,
)
from bot.core.ports.agent import Agent, AgentFailure, Decision
from bot.core.thread.events import (
    ErrorKind,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    TagsListed,
)
from bot.core.thread.intents import ListDeploys, ListTags
from bot.core.thread.thread import Thread
from bot.core.wording.turns import too_many_steps_message
from bot.shell.deploy.execution import Executor
from bot.shell.deploy.recovery import Recovery
from bot.shell.deploy.waiting import WaitingLine
from bot.shell.loop.plan_maker import PlanMaker
from bot.shell.verify.after_deploy import Verification
from bot.shell.world.context import Context
from bot.shell.world.environments import EnvironmentDesk
from bot.shell.world.evidence import EvidenceGatherer
from bot.shell.world.lookups import Lookups
from bot.shell.world.turn_reads import TurnReader, TurnReads

__all__ = ["Runner", "StepHandlers"]

log = logging.getLogger("deploybot.runner")

_PREFETCH_TAGS = 5  # enough context for the model; it can list more


@dataclass(frozen=True, kw_only=True)
class StepHandlers:
    """Who does the steps ``next_step`` names, beyond asking the agent."""

    lookups: Lookups  # Prefetch, Lookup, ResolvePlan
    evidence: EvidenceGatherer  # ResolvePlan: what an approver sees beside the plan
    executor: Executor  # Execute
    recovery: Recovery  # Recover
    verification: Verification  # Verify
    desk: EnvironmentDesk  # Release, LockEnvironment, UnlockEnvironment, Describe


class Runner:
    def __init__(
        self,
        *,
        context: Context,
        agents: Mapping[str, Agent],
        handlers: StepHandlers,
        max_steps: int = 30,
    ) -> None:
        self._config = context.config
        self._reads = TurnReader(context=context, lookups=handlers.lookups)
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._model_calls_per_message = context.limits.model_calls_per_message
        self._agents = agents
        self._lookups = handlers.lookups
        self._executor = handlers.executor
        self._recovery = handlers.recovery
        self._verification = handlers.verification
        self._desk = handlers.desk
        self._line = context.line
        self._waiting = WaitingLine(context=context, queue=context.line)
        self._planner = PlanMaker(
            context=context, reads=self._reads, lookups=handlers.lookups, evidence=handlers.evidence
        )
        self._max_steps = max_steps

    async def advance(self, thread: Thread) -> set[str]:
        """Run steps until the thread pauses. May save the thread (write-ahead points).

        Returns the ids of messages already handed to the outbox during the turn (a deploy's
        start message goes out as soon as ``deploy_started`` is saved).
        """
        memo = TurnReads()
        for _ in range(self._max_steps):
            step = next_step(
                thread,
                config=self._config,
                now=self._clock(),
                new_id=self._new_id,
                model_calls_per_message=self._model_calls_per_message,
            )
            match step:
                case Pause():
                    return memo.published
                case Apply(events=events):
                    thread.events.extend(events)
                case Decide():
                    thread.events.append(await self._decide(thread))
                case Prefetch(services=services):
                    thread.events.extend(await self._prefetch(services, memo))
                    thread.events.append(await self._decide(thread))
                case Lookup(intent=intent):
                    thread.events.append(await self._lookup(intent))
                case ResolvePlan():
                    thread.events.extend(await self._planner.resolve(step, memo, thread))
                case Execute(plan=plan):
                    await self._executor.execute(thread, plan, memo=memo)
                case Recover():
                    thread.events.extend(await self._recovery.recover(step, thread))
                case Verify(plan=plan):
                    thread.events.extend(
                        await self._verification.run(thread, plan, published=memo.published)
                    )
                case Release():
                    thread.events.extend(await self._desk.release(step))
                case LockEnvironment():
                    thread.events.extend(await self._desk.lock(step))
                case UnlockEnvironment():
                    thread.events.extend(await self._desk.unlock(step))
                case CancelElsewhere(plan_id=plan_id, actor=actor):
                    thread.events.append(
                        await self._waiting.cancel_elsewhere(thread, plan_id, actor)
                    )
                case LeaveQueue(plan=plan, events=events):
                    await self._line.leave(thread.id, plan)
                    thread.events.extend(events)
                case Describe(service=service):
                    thread.events.append(await self._desk.describe(service, memo))
                case _:
                    assert_never(step)
        thread.events.append(self._error("tool_failed", too_many_steps_message()))
        return memo.published

    # -- steps ---------------------------------------------------------------------------

    def _error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self._new_id(), at=self._clock(), kind=kind, message=message)

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
                    cache_read_input_tokens=result.cache_read_input_tokens,
                    cache_creation_input_tokens=result.cache_creation_input_tokens,
                )
            case AgentFailure():
                return ErrorRecorded(
                    id=self._new_id(),
                    at=self._clock(),
                    kind=result.kind,
                    message=result.message,
                    input_tokens=result.input_tokens,
                    output_tokens=result.output_tokens,
                    cache_read_input_tokens=result.cache_read_input_tokens,
                    cache_creation_input_tokens=result.cache_creation_input_tokens,
                )
            case _:
                assert_never(result)

    async def _prefetch(self, services: list[str], memo: TurnReads) -> list[Event]:
        """Factor 13: tags and recent deploys, recorded so the prompt can show them (read
        with the locks and quarantines a plan for these pairs needs: one round trip)."""
        pairs = [(s, e) for s in services for e in self._config.services[s].environments]
        await self._reads.fetch(memo, services=services, pairs=pairs)
        events: list[Event] = []
        for service in services:
            found = memo.tags[service]
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
            for env in self._config.services[service].environments:
                if deploys := memo.history[(service, env)]:
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
