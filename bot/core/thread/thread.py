"""The thread: the only state. Status and everything else is derived from its events."""

from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.actor import Actor
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRefused,
    ApprovalRequested,
    CronFired,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    Event,
    HistoryListed,
    IntentChosen,
    LockChanged,
    MessageSent,
    PlanProposed,
    PlanSuperseded,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
    TagsListed,
    TimerFired,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
    VersionReleased,
    WebhookReceived,
)
from bot.core.thread.intents import AskHuman, Deploy, Done, ListDeploys, ListTags, Rollback
from bot.core.thread.origin import Origin
from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.quorum import quorum_reached

__all__ = ["OpenApproval", "Status", "Thread", "derive_status"]

Status = Literal["running", "awaiting_human", "awaiting_approval", "queued", "done", "failed"]


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


def derive_status(events: list[Event]) -> Status:
    """Fold the events into a status (factor 5: nothing stored beside the events).

    A request (message, cron, webhook) makes the thread ``running`` until something answers
    it; answers that change nothing (a refused click, a ``status`` reply) leave the thread in
    the state it was waiting in. The rollback the bot chose after a failed verification that
    cannot be planned or run (nothing to roll back to) leaves the thread ``failed``. A wait
    for release policy (``release_awaited``: soak, a freeze) or in the pair's queue
    (``deploy_queued``) is ``queued`` until it is planned again, its turn comes, or it is
    cancelled or superseded (``queue_left``); queue news for a wait the thread no longer has
    changes nothing.
    """
    status: Status = "done"
    undoing = False  # the bot's own rollback after a failed verification is under way
    needed = 0
    approved: list[str] = []  # who approved the open request (bot.core.thread.quorum)
    waiting_for = ""  # the plan hash of the open approval request
    asking = False  # that request is still open (it can still be approved)
    unanswered = False
    for event in events:
        unanswered = False
        match event:
            case UserMessage() | CronFired() | WebhookReceived() | DecisionReceived():
                unanswered = True
                undoing = undoing and isinstance(event, DecisionReceived)
            case IntentChosen(intent=intent, source=source):
                undoing = source == "system" and isinstance(intent, Rollback)
                match intent:
                    case AskHuman():
                        status = "awaiting_human"
                    case Done():
                        status = "done"
                    case ListTags() | ListDeploys() | Deploy() | Rollback():
                        status = "running"
                    case _:
                        assert_never(intent)
            case ApprovalRequested(min_approvals=min_approvals, plan_hash=plan_hash):
                status, needed, waiting_for = "awaiting_approval", min_approvals, plan_hash
                asking, approved = True, []
            case ApprovalDecided(decision="reject"):
                status, asking = "done", False
            case ApprovalDecided(person=person):
                approved.append(person)
                if quorum_reached(approved, needed=needed):
                    asking = False
                    if status == "awaiting_approval":
                        status = "running"
            case DeployStarted():
                status, asking, undoing = "running", False, False
            case DeployFinished(result="succeeded"):
                status = "done"
            case DeployFinished():
                status = "failed"
            case ErrorRecorded() if undoing:
                status = "failed"
            case DeployInterrupted() | ErrorRecorded():
                status = "awaiting_human"
            case (
                TimerFired(kind="expire", plan_hash=plan_hash) | PlanSuperseded(plan_hash=plan_hash)
            ):
                if plan_hash == waiting_for:
                    asking = False
                    if status == "awaiting_approval":
                        status = "done"
            case TimerFired(kind="verify"):
                status = "running"
            case TimerFired(kind="ready") | QueueTurn() if status == "queued":
                status = "running"  # planned again, or its turn: the step follows at once
            case ReleaseAwaited() | DeployQueued():
                status, asking = "queued", False
            case QueueLeft() if status == "queued":
                status = "done"
            case QueueLeft() | QueueMoved() | QueueTurn():
                pass  # for a wait the thread no longer has: nothing changes
            case TimerFired():
                pass
            case VerificationFinished(result="verified" | "superseded"):
                status = "done"
            case VerificationFinished():
                status = "failed"
            case PlanProposed():
                asking = False  # a newer plan replaces any open request
            case MessageSent(purpose="result") if status == "running":
                status = "done"  # a lookup answered, a request withdrawn: nothing is running
            case (
                TagsListed()
                | HistoryListed()
                | ApprovalRefused()
                | ApprovalEscalated()
                | MessageSent()
                | LockChanged()
                | VersionQuarantined()
                | VersionReleased()
            ):
                pass
            case _:
                assert_never(event)
    if unanswered:
        return "running"
    # A lookup answered, or the model done, while a request is still open and can be
    # approved: the thread is still waiting for that approval.
    return "awaiting_approval" if asking and status in ("done", "awaiting_human") else status
