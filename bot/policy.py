"""Approval policy: code, never the model. Pure functions over the config and the thread.

Who counts is a *person* from ``[people]``, whichever channel they answer on, so the
self-approval and approver checks hold across Slack, email, the terminal and the API.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.config import Config, Environment
from bot.thread import OpenApproval

__all__ = [
    "Allowed",
    "Refused",
    "check_decision",
    "check_requester",
    "eligible_approvers",
    "needs_approval",
    "requester_label",
]


class Allowed(BaseModel):
    model_config = ConfigDict(frozen=True)


class Refused(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str


def needs_approval(env: Environment) -> bool:
    return env.approval


def eligible_approvers(env: Environment, *, requester: str) -> list[str]:
    """The approvers who may decide a plan asked for by ``requester`` (a person's name)."""
    return [p for p in env.approvers if env.self_approval or p != requester]


def requester_label(config: Config, actor: str) -> str | None:
    """The name a plan records as its requester: a person, a schedule or a webhook.

    ``None`` when the actor is a person deploybot does not know.
    """
    if actor.startswith(("schedule:", "webhook:")):
        return actor
    return config.person_for(actor)


def check_requester(config: Config, *, actor: str) -> Allowed | Refused:
    """Only people in ``[people]`` (and configured schedules/webhooks) may ask for deploys."""
    if requester_label(config, actor) is not None:
        return Allowed()
    ident = actor.partition(":")[2] or actor
    return Refused(
        reason=f"I don't know {ident}: only people listed in deploybot's config may request "
        "deploys. Nothing was deployed."
    )


def check_decision(
    *,
    config: Config,
    open_approval: OpenApproval,
    actor: str,
    decision: Literal["approve", "reject"],
    now: datetime,
) -> Allowed | Refused:
    plan = open_approval.plan
    env = config.environments[plan.environment]
    person = config.person_for(actor)
    if person is None:
        ident = actor.partition(":")[2] or actor
        return Refused(reason=f"{ident} is not in deploybot's list of people, so cannot decide.")
    if now >= open_approval.request.expires_at:
        stamp = open_approval.request.expires_at.strftime("%H:%M UTC")
        return Refused(
            reason=f"Plan #{plan.short_id} expired at {stamp}; ask for the deploy again."
        )
    if decision == "reject" and person == plan.requester:
        return Allowed()  # a requester may always withdraw their own request
    allowed = list(dict.fromkeys([*env.approvers, *open_approval.escalated_to]))
    if person not in allowed:
        names = ", ".join(allowed)
        return Refused(
            reason=f"{person} can't {decision} deploys to {plan.environment}; approvers: {names}."
        )
    if person == plan.requester and not env.self_approval:
        return Refused(
            reason=f"{person} asked for this deploy, and {plan.environment} needs someone "
            "else's approval."
        )
    if decision == "approve" and person in open_approval.approved_by:
        return Refused(reason=f"{person} has already approved plan #{plan.short_id}.")
    return Allowed()
