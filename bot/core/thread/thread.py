"""The thread: the only state. Status and everything else is derived from its events."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.derived.status import Status, derive_status
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    CronFired,
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    MessageSent,
    PlanProposed,
    PlanSuperseded,
    QueueLeft,
    ReleaseAwaited,
    TagsListed,
    TimerFired,
    UserMessage,
    WebhookReceived,
)
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.origin import Origin
from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.text.actor import Actor

__all__ = ["OpenApproval", "Status", "Thread", "derive_status"]


class OpenApproval(BaseModel):
    model_config = ConfigDict(frozen=True)

    plan: Plan
    request: ApprovalRequested
    approved_by: list[str]
    escalated_to: list[str] = Field(default_factory=list)  # the escalation group, once asked

    @property
    def approvers(self) -> list[str]:
        """Who may decide: the request's approvers, then any escalation group."""
        return list(dict.fromkeys([*self.request.approvers, *self.escalated_to]))

    def waiting_on(self) -> list[str]:
        return [p for p in self.approvers if p not in self.approved_by]


class Thread(BaseModel):
    id: str
    origin: Origin
    agent: Literal["deploy", "rollback"] = "deploy"
    created_at: datetime
    events: list[Event] = Field(default_factory=list)
    version: int = 0

    @property
    def status(self) -> Status:
        return derive_status(self.events)

    def has_event(self, event_id: str) -> bool:
        return any(e.id == event_id for e in self.events)

    def requester(self) -> Actor | None:
        """Who asked for what the thread is doing now: the actor of the newest request (a
        person, a schedule or a webhook). In a long-lived thread (a Slack thread, a terminal
        session) a later request by someone else makes them the requester."""
        for event in reversed(self.events):
            match event:
                case UserMessage(actor=actor):
                    return actor
                case CronFired(schedule=name):
                    return Actor.recorded(f"schedule:{name}")
                case WebhookReceived(name=name):
                    return Actor.recorded(f"webhook:{name}")
                case _:
                    continue
        return None

    def plan(self, plan_hash: str) -> Plan | None:
        for event in reversed(self.events):
            if isinstance(event, PlanProposed) and event.plan.plan_hash == plan_hash:
                return event.plan
        return None

    def open_approval(self) -> OpenApproval | None:
        """The newest approval request, unless it was decided or a newer plan replaced it."""
        approved: list[str] = []
        expired: set[str] = set()
        escalated: list[ApprovalEscalated] = []
        for event in reversed(self.events):
            match event:
                case ApprovalEscalated():
                    escalated.insert(0, event)
                case ApprovalDecided(decision="reject"):
                    return None
                case ApprovalDecided(person=person):
                    approved.append(person)
                case ApprovalRequested():
                    plan = self.plan(event.plan_hash)
                    if plan is None or self.started(event.plan_hash) or event.plan_hash in expired:
                        return None
                    return OpenApproval(
                        plan=plan,
                        request=event,
                        approved_by=approved[::-1],
                        escalated_to=[
                            p
                            for e in escalated
                            if e.plan_hash == event.plan_hash
                            for p in e.approvers
                        ],
                    )
                case PlanProposed():
                    return None  # a newer plan supersedes any older request
                case TimerFired(kind="expire", plan_hash=plan_hash):
                    expired.add(plan_hash)
                case PlanSuperseded(plan_hash=plan_hash):
                    expired.add(plan_hash)
                case _:
                    continue
        return None

    def approvers_of(self, plan_hash: str) -> list[str]:
        """Who approved the plan ``plan_hash``, in order."""
        return [
            e.person
            for e in self.events
            if isinstance(e, ApprovalDecided)
            and e.plan_hash == plan_hash
            and e.decision == "approve"
        ]

    def evidence_of(self, plan_hash: str) -> Evidence | None:
        """The evidence recorded with the plan ``plan_hash`` (its newest proposal)."""
        for event in reversed(self.events):
            if isinstance(event, PlanProposed) and event.plan.plan_hash == plan_hash:
                return event.evidence
        return None

    def fresh_attempt(self, plan: Plan) -> Plan:
        """``plan`` as a new attempt if this thread already started it (a failed try being
        asked again), or release policy stopped it at its run: a started plan never runs
        again, and a held one is approved afresh, but a new attempt may."""
        while self.started(plan.plan_hash) or self.held(plan.plan_hash):
            plan = plan.model_copy(update={"attempt": plan.attempt + 1})
        return plan

    def held(self, plan_hash: str) -> bool:
        """Release policy stopped the approved plan ``plan_hash`` just before it ran."""
        return any(isinstance(e, ReleaseAwaited) and e.held == plan_hash for e in self.events)

    def waiting(self) -> ReleaseAwaited | DeployQueued | None:
        """The wait the thread is in now, or None: its newest ``release_awaited`` or
        ``deploy_queued``, unless something after it ended it (a plan made, a deploy
        started, a refusal, a newer request, a ``queue_left`` naming it)."""
        wait: ReleaseAwaited | DeployQueued | None = None
        for event in self.events:
            match event:
                case ReleaseAwaited() | DeployQueued():
                    wait = event
                case PlanProposed() | DeployStarted() | ErrorRecorded():
                    wait = None
                case IntentChosen(intent=Deploy() | Rollback()):
                    wait = None  # a newer request: any older wait is over
                case QueueLeft() if wait is not None and event.ends(wait):
                    wait = None
                case _:
                    continue
        return wait

    def started(self, plan_hash: str) -> bool:
        return any(isinstance(e, DeployStarted) and e.plan_hash == plan_hash for e in self.events)

    def unfinished_deploy(self) -> DeployStarted | None:
        """A deploy_started with no deploy_finished or deploy_interrupted after it."""
        for event in reversed(self.events):  # the newest of the three decides
            if isinstance(event, DeployStarted):
                return event
            if isinstance(event, DeployFinished | DeployInterrupted):
                return None
        return None

    def since_request(self) -> list[Event]:
        """The events since the newest request (a message, a schedule or a webhook firing),
        oldest first: what the bot has done about it so far."""
        for i in range(len(self.events) - 1, -1, -1):
            if isinstance(self.events[i], UserMessage | CronFired | WebhookReceived):
                return self.events[i + 1 :]
        return list(self.events)

    def model_calls_since_request(self) -> int:
        """How many times the model was asked about the newest request: each call ends in
        a chosen intent or a recorded failure (unavailable, or an answer that was no valid
        intent)."""
        return sum(
            1
            for e in self.since_request()
            if (isinstance(e, IntentChosen) and e.source == "model")
            or (isinstance(e, ErrorRecorded) and e.kind in ("invalid_output", "model_unavailable"))
        )

    def consecutive_errors(self) -> int:
        """Errors since the last real progress (a request, a plan, a decision, a deploy).

        Intents and lookups in between do not reset the count: a model that keeps choosing
        invalid intents, or looks things up between mistakes, still runs out of tries.
        """
        count = 0
        for event in reversed(self.events):
            if isinstance(event, ErrorRecorded):
                count += 1
            elif isinstance(event, MessageSent | TagsListed | HistoryListed | IntentChosen):
                continue
            else:
                break
        return count
