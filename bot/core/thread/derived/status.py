"""A thread's status, folded from its events (factor 5: nothing stored beside them)."""

from typing import Literal, assert_never

from bot.core.thread.derived.quorum import quorum_reached
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

__all__ = ["Status", "derive_status"]

Status = Literal["running", "awaiting_human", "awaiting_approval", "queued", "done", "failed"]


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
    approved: list[str] = []  # who approved the open request (bot.core.thread.derived.quorum)
    waiting_for = ""  # the plan hash of the open approval request
    asking = False  # that request is still open (it can still be approved)
    unanswered = False
    wait: ReleaseAwaited | DeployQueued | None = None  # the newest wait, for queue_left
    for event in events:
        unanswered = False
        match event:  # the commonest events first: each case is one isinstance check
            case MessageSent(purpose="result") if status == "running":
                status = "done"  # a lookup answered, a request withdrawn: nothing is running
            case MessageSent() | LockChanged() | TagsListed() | HistoryListed():
                pass
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
            case VerificationFinished(result="verified" | "superseded"):
                status = "done"
            case VerificationFinished():
                status = "failed"
            case PlanProposed():
                asking = False  # a newer plan replaces any open request
            case TimerFired(kind="ready") | QueueTurn() if status == "queued":
                status = "running"  # planned again, or its turn: the step follows at once
            case ReleaseAwaited() | DeployQueued():
                status, asking, wait = "queued", False, event
            case QueueLeft() if status == "queued" and wait is not None and event.ends(wait):
                status = "done"
            case QueueLeft() | QueueMoved() | QueueTurn():
                pass  # for a wait the thread no longer has: nothing changes
            case TimerFired():
                pass
            case ApprovalRefused() | ApprovalEscalated() | VersionQuarantined() | VersionReleased():
                pass
            case _:
                assert_never(event)
    if unanswered:
        return "running"
    # A lookup answered, or the model done, while a request is still open and can be
    # approved: the thread is still waiting for that approval.
    return "awaiting_approval" if asking and status in ("done", "awaiting_human") else status
