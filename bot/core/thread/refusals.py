"""Why policy refused, as data: one frozen model per reason, carrying the facts (who asked,
which environment, who holds its lock, which plan, who may decide). Policy returns them
(``bot.core.policy.approval``, ``bot.core.policy.lock``, ``bot.core.policy.quarantine``);
``bot.core.wording.refusals`` words each one; nothing else writes the sentence. The
live-state checks (``bot.core.policy.live``, ``bot.core.policy.supersession``) refuse with
the drift they found: the live deploy, the tag, the rollback's base.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.plan import DeployRecord, Plan, Quarantined

__all__ = [
    "STALE",
    "AlreadyApproved",
    "AmbiguousApprove",
    "CancelNotAllowed",
    "CommitQuarantined",
    "EnvironmentLocked",
    "GoesBackwards",
    "LiveChanged",
    "NobodyMayRelease",
    "NotAPerson",
    "NotAnApprover",
    "NotItsEnvironment",
    "OwnRequest",
    "PlanExpired",
    "Refusal",
    "ReleaseInterruptedNotAllowed",
    "ReleaseNotAllowed",
    "ReleaseWithoutReason",
    "RollbackNoLongerUndoes",
    "TagGone",
    "TagMoved",
    "UnknownRequester",
    "UnknownService",
    "UnlockNotAllowed",
]


class _Reason(BaseModel):
    model_config = ConfigDict(frozen=True)


class UnknownRequester(_Reason):
    """``who`` (an actor's id, or "unknown") is no person, schedule or webhook of the config."""

    kind: Literal["unknown_requester"] = "unknown_requester"
    who: str
    asking: Literal["request deploys", "lock environments", "release"] = "request deploys"


class NotAPerson(_Reason):
    """A decision from ``who``, whom ``[people]`` does not name."""

    kind: Literal["not_a_person"] = "not_a_person"
    who: str


class PlanExpired(_Reason):
    kind: Literal["plan_expired"] = "plan_expired"
    plan_short_id: str
    expires_at: datetime


class NotAnApprover(_Reason):
    """``person`` is not among ``approvers`` (the environment's, escalated, named)."""

    kind: Literal["not_an_approver"] = "not_an_approver"
    person: str
    decision: Literal["approve", "reject"]
    environment: str
    approvers: tuple[str, ...]


class OwnRequest(_Reason):
    """``person`` asked for the plan, and ``environment`` does not allow self-approval."""

    kind: Literal["own_request"] = "own_request"
    person: str
    environment: str


class AlreadyApproved(_Reason):
    kind: Literal["already_approved"] = "already_approved"
    person: str
    plan_short_id: str


class AmbiguousApprove(_Reason):
    """A bare ``approve`` in a thread that asked approval for more than one plan; ``plan``:
    the one waiting now."""

    kind: Literal["ambiguous_approve"] = "ambiguous_approve"
    plan: Plan


class UnknownService(_Reason):
    kind: Literal["unknown_service"] = "unknown_service"
    service: str
    known: tuple[str, ...]


class NotItsEnvironment(_Reason):
    kind: Literal["not_its_environment"] = "not_its_environment"
    service: str
    environment: str
    environments: tuple[str, ...]


class EnvironmentLocked(_Reason):
    """A person's lock on ``environment``: ``who`` set it, ``why``, ``since``."""

    kind: Literal["environment_locked"] = "environment_locked"
    environment: str
    who: str
    why: str
    since: datetime


class UnlockNotAllowed(_Reason):
    kind: Literal["unlock_not_allowed"] = "unlock_not_allowed"
    environment: str
    locked_by: str
    approvers: tuple[str, ...]


class ReleaseInterruptedNotAllowed(_Reason):
    """Releasing a pair held after an interrupted deploy takes an approver."""

    kind: Literal["release_interrupted_not_allowed"] = "release_interrupted_not_allowed"
    environment: str
    approvers: tuple[str, ...]


class NobodyMayRelease(_Reason):
    """The config names nobody who may lift a quarantine in ``environment``."""

    kind: Literal["nobody_may_release"] = "nobody_may_release"
    environment: str


class ReleaseNotAllowed(_Reason):
    """``person`` is not among ``releasers``, named by the environment's ``named_by`` key."""

    kind: Literal["release_not_allowed"] = "release_not_allowed"
    environment: str
    person: str
    releasers: tuple[str, ...]
    named_by: Literal["release_by", "approvers"]


class CancelNotAllowed(_Reason):
    """Only the requester of a waiting plan, or an approver of its environment, may take it
    out of the line (``cancel``)."""

    kind: Literal["cancel_not_allowed"] = "cancel_not_allowed"
    environment: str
    requester: str
    approvers: tuple[str, ...]


class ReleaseWithoutReason(_Reason):
    kind: Literal["release_without_reason"] = "release_without_reason"


class CommitQuarantined(_Reason):
    """A plan's commit is quarantined in ``environment`` (``entry``); ``asked``: the tag it
    was asked for by, when that is another name for the same commit."""

    kind: Literal["commit_quarantined"] = "commit_quarantined"
    service: str
    environment: str
    entry: Quarantined
    asked: str | None = None


class GoesBackwards(_Reason):
    """A deploy would move ``environment`` back from ``live`` to ``version`` unasked."""

    kind: Literal["goes_backwards"] = "goes_backwards"
    service: str
    environment: str
    live: str
    version: str


class LiveChanged(_Reason):
    """The live deploy is not the one ``plan`` was made against: ``live`` (None: nothing
    deployed now), read at ``now``."""

    kind: Literal["live_changed"] = "live_changed"
    plan: Plan
    live: DeployRecord | None
    now: datetime


class TagGone(_Reason):
    kind: Literal["tag_gone"] = "tag_gone"
    service: str
    version: str


class TagMoved(_Reason):
    """The tag ``version`` now names commit ``now_sha``, not the planned ``planned_sha``."""

    kind: Literal["tag_moved"] = "tag_moved"
    version: str
    now_sha: str
    planned_sha: str


class RollbackNoLongerUndoes(_Reason):
    """A rollback planned against ``failed_version`` finds ``now_version`` live instead."""

    kind: Literal["rollback_no_longer_undoes"] = "rollback_no_longer_undoes"
    environment: str
    now_version: str | None
    failed_version: str


Refusal = Annotated[
    UnknownRequester
    | NotAPerson
    | PlanExpired
    | NotAnApprover
    | OwnRequest
    | AlreadyApproved
    | AmbiguousApprove
    | UnknownService
    | NotItsEnvironment
    | EnvironmentLocked
    | UnlockNotAllowed
    | ReleaseInterruptedNotAllowed
    | NobodyMayRelease
    | ReleaseNotAllowed
    | ReleaseWithoutReason
    | CancelNotAllowed
    | CommitQuarantined
    | GoesBackwards
    | LiveChanged
    | TagGone
    | TagMoved
    | RollbackNoLongerUndoes,
    Field(discriminator="kind"),
]

# The request is no longer waiting for this decision (expired, already approved by this
# person, ambiguous), as opposed to: this person may not say it. The API answers 409, not 403.
STALE = (PlanExpired, AlreadyApproved, AmbiguousApprove)
