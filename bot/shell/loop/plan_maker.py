"""Making a plan from a deploy or rollback intent, in the shell: what it is made against (one
round trip: ``bot.shell.world.turn_reads``), the pure plan (``bot.core.loop.planning``), then
release policy (``bot.shell.deploy.release_gate``) and the evidence for the approvers.

A person's lock on the environment refuses it first. A deploy for a busy pair is made
against what the plans ahead of it leave (the last in the pair's line, else the running
deploy: ``Ahead``), so its card says "after v1.1.0 (queued ahead)" and its turn's re-check
finds no drift when they ran; a plan for the very commit that already waits is made against
live instead (it takes that one's place in line, and is re-checked at its turn). Refusals
(quarantine, going backwards, no such tag) are the thread's words, never exceptions.
"""

from bot.core.errors import PlanRefused, ToolFailed
from bot.core.loop.planning import build_plan
from bot.core.loop.steps import ResolvePlan
from bot.core.thread.events import ErrorKind, ErrorRecorded, Event, PlanProposed
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.plan import DeployRecord, Evidence, Plan, Tag
from bot.core.thread.thread import Thread
from bot.shell.deploy.release_gate import Planned, ReleaseGate
from bot.shell.world.context import Context
from bot.shell.world.environments import frozen_refusal
from bot.shell.world.evidence import EvidenceGatherer
from bot.shell.world.lookups import Lookups
from bot.shell.world.turn_reads import TurnReader, TurnReads, ahead_of

__all__ = ["PlanMaker"]


class PlanMaker:
    def __init__(
        self,
        *,
        context: Context,
        reads: TurnReader,
        lookups: Lookups,
        evidence: EvidenceGatherer,
    ) -> None:
        self._reads = reads
        self._lookups = lookups
        self._evidence = evidence
        self._gate = ReleaseGate(context=context)
        self._clock = context.clock.now
        self._new_id = context.clock.new_id

    def _error(self, kind: ErrorKind, message: str) -> ErrorRecorded:
        return ErrorRecorded(id=self._new_id(), at=self._clock(), kind=kind, message=message)

    async def _build(
        self,
        intent: Deploy | Rollback,
        *,
        tags: list[Tag],
        history: list[DeployRecord],
        memo: TurnReads,
        requester: str,
    ) -> Plan:
        banned = memo.quarantined[(intent.service, intent.environment)]
        lineage = await self._lookups.lineage_for(
            intent, tags=tags, history=history, quarantined=banned
        )
        return build_plan(
            intent,
            tags=tags,
            history=history,
            requester=requester,
            quarantined=banned,
            lineage=lineage,
        )

    async def resolve(self, step: ResolvePlan, memo: TurnReads, thread: Thread) -> list[Event]:
        intent = step.intent
        pair = (intent.service, intent.environment)
        await self._reads.for_plan(memo, service=intent.service, environment=intent.environment)
        holder = memo.frozen[intent.environment]
        if refusal := frozen_refusal(
            environment=intent.environment, holder=holder, requester=step.requester
        ):
            return [self._error("locked", refusal)]
        try:
            tags, live = memo.tags_of(intent.service), memo.history[pair]
            ahead = memo.ahead.get(pair) if isinstance(intent, Deploy) else None
            judged = ahead_of(live, ahead, now=self._clock()) if ahead else live
            if judged is live:
                ahead = None  # nothing ahead, or what they leave is live already
            who = step.requester
            plan = await self._build(intent, tags=tags, history=judged, memo=memo, requester=who)
            if ahead is not None and plan.sha == ahead.sha:  # the same commit waits already
                ahead = None
                plan = await self._build(intent, tags=tags, history=live, memo=memo, requester=who)
        except PlanRefused as exc:
            return [self._error("refused", str(exc))]
        except ToolFailed as exc:
            return [self._error("tool_failed", str(exc))]
        if ahead is not None:
            plan = plan.model_copy(update={"ahead": ahead.kind})
        plan = thread.fresh_attempt(plan)
        gated = await self._gate.when_planned(thread, plan, intent=intent, requester=step.requester)
        if not isinstance(gated, Planned):
            return gated  # held by a freeze or by soak: refused, or waiting ("when ready")
        plan = gated.plan
        # What an approver should see beside it (bounded; never fails the plan).
        evidence = await self._evidence.gather(plan)
        if gated.notes:
            evidence = (
                evidence or Evidence(live_version=plan.previous_version, requester=plan.requester)
            ).model_copy(update={"release": gated.notes})
        return [PlanProposed(id=self._new_id(), at=self._clock(), plan=plan, evidence=evidence)]
