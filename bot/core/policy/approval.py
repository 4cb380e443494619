"""Approval policy: code, never the model. Pure functions over the config and the thread.

Who counts is a *person* from ``[people]``, whichever channel they answer on, so the
self-approval and approver checks hold across Slack, email, the terminal and the API.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config, Environment
from bot.core.thread.derived.quorum import quorum_reached
from bot.core.thread.events import ApprovalRequested, PlanProposed
from bot.core.thread.intents import Intent
from bot.core.thread.plan import Plan
from bot.core.thread.refusals import (
    STALE,
    AlreadyApproved,
    AmbiguousApprove,
    NotAnApprover,
    NotAPerson,
    NotItsEnvironment,
    OwnRequest,
    PlanExpired,
    Refusal,
    UnknownRequester,
    UnknownService,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval, Thread
from bot.core.wording.refusals import refusal_text

__all__ = [
    "Allowed",
    "NotOpen",
    "Refused",
    "check_bare_approval",
    "check_decision",
    "check_decision_on",
    "check_requester",
    "check_scope",
    "confirmers",
    "eligible_approvers",
    "has_quorum",
    "needs_approval",
    "requester_label",
]


class Allowed(BaseModel):
    model_config = ConfigDict(frozen=True)


class Refused(BaseModel):
    """A check said no; ``why`` is the reason as data (``bot.core.thread.refusals``),
    ``reason`` its words (``bot.core.wording.refusals``)."""

    model_config = ConfigDict(frozen=True)

    why: Refusal

    @property
    def reason(self) -> str:
        return refusal_text(self.why)

    @property
    def stale(self) -> bool:
        """The request is no longer waiting for this (expired, already approved by this
        person, ambiguous), as opposed to: this person may not say it (409, not 403)."""
        return isinstance(self.why, STALE)


class NotOpen(BaseModel):
    """Nothing in the thread waits for this decision: no request is open, or the open one is
    another plan than the one named (``open_plan``)."""

    model_config = ConfigDict(frozen=True)

    open_plan: Plan | None = None


def needs_approval(env: Environment, *, kind: Literal["deploy", "rollback"] = "deploy") -> bool:
    """Deploys here wait for approval per ``approval``; rollbacks per ``rollback_approval``
    (default: as deploys)."""
    return env.rollback_needs_approval if kind == "rollback" else env.approval


def confirmers(config: Config, env: Environment) -> list[str]:
    """Who may confirm a rollback the bot proposed where rollbacks need no approval: the
    environment's approvers, or anyone in [people] where it has none."""
    return list(env.approvers) or sorted(config.people)


def eligible_approvers(env: Environment, *, requester: str) -> list[str]:
    """The approvers who may decide a plan asked for by ``requester`` (a person's name)."""
    return [p for p in env.approvers if env.self_approval or p != requester]


def has_quorum(open_approval: OpenApproval) -> bool:
    """The open request has as many approvals as it asked for, each from a different person
    (one person approving twice counts once). The one quorum check: a decision arriving and
    a reminder or expiry coming due both ask it (``bot.core.loop.approval_steps``)."""
    return quorum_reached(open_approval.approved_by, needed=open_approval.request.min_approvals)


def requester_label(config: Config, actor: Actor) -> str | None:
    """The name a plan records as its requester: a person, a schedule or a webhook.

    ``None`` when the actor is a person deploybot does not know.
    """
    if actor.channel in ("schedule", "webhook"):
        return str(actor)
    return config.person_for(actor)


def check_requester(
    config: Config,
    *,
    actor: Actor | None,
    asking: Literal["request deploys", "lock environments", "release"] = "request deploys",
) -> Allowed | Refused:
    """Only people in ``[people]`` (and configured schedules/webhooks) may ask for deploys
    (or, ``asking``, lock environments or release)."""
    if actor is not None and requester_label(config, actor) is not None:
        return Allowed()
    who = actor.id if actor is not None else "unknown"
    return Refused(why=UnknownRequester(who=who, asking=asking))


def check_decision(
    *,
    config: Config,
    open_approval: OpenApproval,
    actor: Actor,
    decision: Literal["approve", "reject"],
    now: datetime,
) -> Allowed | Refused:
    plan = open_approval.plan
    env = config.environments[plan.environment]
    person = config.person_for(actor)
    if person is None:
        return Refused(why=NotAPerson(who=actor.id))
    if now >= open_approval.request.expires_at:
        expires_at = open_approval.request.expires_at
        return Refused(why=PlanExpired(plan_short_id=plan.short_id, expires_at=expires_at))
    if decision == "reject" and person == plan.requester:
        return Allowed()  # a requester may always withdraw their own request
    # A rollback the bot proposed where rollbacks need no approval asks for a confirmation
    # from the people named in its request (bot.core.policy.approval.confirmers).
    confirming = not needs_approval(env, kind=plan.kind)
    named = open_approval.request.approvers if confirming else []
    allowed = list(dict.fromkeys([*env.approvers, *open_approval.escalated_to, *named]))
    if person not in allowed:
        return Refused(
            why=NotAnApprover(
                person=person,
                decision=decision,
                environment=plan.environment,
                approvers=tuple(allowed),
            )
        )
    if person == plan.requester and not env.self_approval and not confirming:
        return Refused(why=OwnRequest(person=person, environment=plan.environment))
    if decision == "approve" and person in open_approval.approved_by:
        return Refused(why=AlreadyApproved(person=person, plan_short_id=plan.short_id))
    return Allowed()


def check_bare_approval(thread: Thread, open_approval: OpenApproval) -> Allowed | Refused:
    """A typed ``approve`` without a plan id counts only where it cannot mean another plan.

    That is a thread whose open request is the only plan it ever asked approval for (the same
    plan asked again, after a failed try, is still one plan). Otherwise the approver may have
    read an earlier plan that was since replaced (v1.4.0 asked, then swapped for v1.4.2), so
    they must name the plan they mean.
    """
    plan = open_approval.plan
    plans: dict[str, Plan] = {}  # plan hash -> its newest proposal (one pass, not one a request)
    for e in thread.events:
        if isinstance(e, PlanProposed):
            plans[e.plan.plan_hash] = e.plan
    asked = {
        p.identity
        for e in thread.events
        if isinstance(e, ApprovalRequested) and (p := plans.get(e.plan_hash)) is not None
    }
    if asked <= {plan.identity}:  # attempts of one plan are one plan
        return Allowed()
    return Refused(why=AmbiguousApprove(plan=plan))


def check_scope(intent: Intent, config: Config) -> Allowed | Refused:
    """The model may only propose what the config holds: a known service, and one of its
    environments (invariant 6). Anything else is an invalid step, never an action."""
    service = getattr(intent, "service", None)
    if service is None:
        return Allowed()
    if service not in config.services:
        return Refused(why=UnknownService(service=service, known=tuple(sorted(config.services))))
    environment = getattr(intent, "environment", None)
    if environment is None:
        return Allowed()
    allowed = config.services[service].environments
    if environment not in allowed:
        return Refused(
            why=NotItsEnvironment(
                service=service, environment=environment, environments=tuple(allowed)
            )
        )
    return Allowed()


def check_decision_on(
    thread: Thread,
    *,
    config: Config,
    actor: Actor,
    decision: Literal["approve", "reject"],
    plan_ref: str | None,
    now: datetime,
) -> Allowed | NotOpen | Refused:
    """Whether ``actor``'s decision on the plan ``plan_ref`` names (a hash or its prefix; None
    for a bare typed ``approve``/``reject``) counts now: the one check every channel's
    decision goes through, in the worker (``bot.core.loop.approval_steps``) and before the API
    accepts one (``channels.api.resume``)."""
    open_approval = thread.open_approval()
    if open_approval is None:
        return NotOpen()
    if plan_ref and not open_approval.plan.plan_hash.startswith(plan_ref.lower()):
        return NotOpen(open_plan=open_approval.plan)
    verdict = check_decision(
        config=config, open_approval=open_approval, actor=actor, decision=decision, now=now
    )
    if isinstance(verdict, Allowed) and decision == "approve" and not plan_ref:
        return check_bare_approval(thread, open_approval)
    return verdict
