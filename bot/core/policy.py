"""Approval policy: code, never the model. Pure functions over the config and the thread.

Who counts is a *person* from ``[people]``, whichever channel they answer on, so the
self-approval and approver checks hold across Slack, email, the terminal and the API.
"""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.config import Config, Environment
from bot.core.events import ApprovalRequested
from bot.core.plan import DeployRecord, Plan, Tag, version_key
from bot.core.thread import OpenApproval, Thread

__all__ = [
    "Allowed",
    "Refused",
    "check_bare_approval",
    "check_decision",
    "check_live_state",
    "check_not_older",
    "check_release",
    "check_release_interrupted",
    "check_requester",
    "check_unlock",
    "confirmers",
    "eligible_approvers",
    "needs_approval",
    "requester_label",
]


class Allowed(BaseModel):
    model_config = ConfigDict(frozen=True)


class Refused(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str
    # The request is no longer waiting for this (expired, already approved by this person),
    # as opposed to: this person may not say it. The API answers 409 rather than 403.
    stale: bool = False


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
            reason=f"Plan #{plan.short_id} expired at {stamp}; ask for the deploy again.",
            stale=True,
        )
    if decision == "reject" and person == plan.requester:
        return Allowed()  # a requester may always withdraw their own request
    # A rollback the bot proposed where rollbacks need no approval asks for a confirmation
    # from the people named in its request (bot.core.policy.confirmers).
    confirming = not needs_approval(env, kind=plan.kind)
    named = open_approval.request.approvers if confirming else []
    allowed = list(dict.fromkeys([*env.approvers, *open_approval.escalated_to, *named]))
    if person not in allowed:
        names = ", ".join(allowed)
        return Refused(
            reason=f"{person} can't {decision} deploys to {plan.environment}; approvers: {names}."
        )
    if person == plan.requester and not env.self_approval and not confirming:
        return Refused(
            reason=f"{person} asked for this deploy, and {plan.environment} needs someone "
            "else's approval."
        )
    if decision == "approve" and person in open_approval.approved_by:
        return Refused(reason=f"{person} has already approved plan #{plan.short_id}.", stale=True)
    return Allowed()


def check_bare_approval(thread: Thread, open_approval: OpenApproval) -> Allowed | Refused:
    """A typed ``approve`` without a plan id counts only where it cannot mean another plan.

    That is a thread whose open request is the only plan it ever asked approval for (the same
    plan asked again, after a failed try, is still one plan). Otherwise the approver may have
    read an earlier plan that was since replaced (v1.4.0 asked, then swapped for v1.4.2), so
    they must name the plan they mean.
    """
    plan = open_approval.plan
    asked = {
        p.identity
        for e in thread.events
        if isinstance(e, ApprovalRequested) and (p := thread.plan(e.plan_hash)) is not None
    }
    if asked <= {plan.identity}:  # attempts of one plan are one plan
        return Allowed()
    return Refused(
        reason=f"This thread has asked approval for more than one plan, so a bare 'approve' "
        f"could mean the wrong one. The plan waiting now is #{plan.short_id}: "
        f"{plan.describe()}, asked by {plan.requester}. To approve exactly that, say "
        f"'approve {plan.short_id}'. Nothing was changed."
    )


def _older(candidate: str, than: str) -> bool | None:
    """Whether tag ``candidate`` is an older version than ``than``; None: cannot tell."""
    a, b = version_key(candidate), version_key(than)
    if not (a[0] and b[0]):
        return None  # not both versions: the tag list does not say which is older
    return a < b


def check_not_older(
    *, service: str, environment: str, version: str, live: str | None
) -> Allowed | Refused:
    """A deploy never quietly goes backwards: an older version than the live one is a
    rollback, asked for and approved as one."""
    if live is None or live == version or not _older(version, live):
        return Allowed()
    return Refused(
        reason=f"That would roll {service} in {environment} back from {live} to {version}; "
        f"say 'rollback {service} in {environment} to {version}' if you mean it. "
        "Nothing was deployed."
    )


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"on {then:%Y-%m-%d}"


def check_live_state(
    plan: Plan, *, history: list[DeployRecord], tags: list[Tag], now: datetime
) -> Allowed | Refused:
    """Just before a plan runs: is the world still the one its approvers were shown?

    The environment's live version must still be the plan's "now" version, and the tag must
    still point at the plan's commit. ``history`` is newest first, read after taking the
    environment's lock; ``tags`` are read from the repository, not a cache.
    """
    live_record = next((r for r in history if r.result == "succeeded"), None)
    live = live_record.version if live_record else None
    if live != plan.previous_version:
        assert live_record is not None or plan.previous_version is not None
        if live_record is None:
            now_text = f"{plan.environment} has no successful deploy of {plan.service} now"
        else:
            when = _ago(datetime.fromisoformat(live_record.at), now)
            now_text = (
                f"{plan.environment} is now {live}, deployed by {live_record.requester} {when}"
            )
        made = plan.previous_version or "nothing deployed"
        return Refused(reason=f"{now_text}; this plan was made against {made}.")
    tag = next((t for t in tags if t.name == plan.version), None)
    if tag is None:
        return Refused(reason=f"the tag {plan.version} no longer exists in {plan.service}.")
    if tag.sha != plan.sha:
        return Refused(
            reason=f"the tag {plan.version} now points at {tag.sha[:7]}, not {plan.sha[:7]} "
            "as planned."
        )
    return Allowed()


def check_unlock(
    config: Config, *, environment: str, person: str, locked_by: str
) -> Allowed | Refused:
    """A person's lock on an environment is lifted by whoever set it or by its approvers."""
    approvers = config.environments[environment].approvers
    if person == locked_by or person in approvers:
        return Allowed()
    others = f" or an approver of {environment} ({', '.join(approvers)})" if approvers else ""
    return Refused(reason=f"Only {locked_by}{others} can unlock {environment}.")


def check_release_interrupted(
    config: Config, *, environment: str, person: str
) -> Allowed | Refused:
    """After a deploy's outcome became unknown, its service stays held in ``environment``
    until someone who could approve a deploy there has looked (anyone in [people] where
    the environment needs no approval)."""
    env = config.environments[environment]
    if person in env.approvers or (not env.approval and person in config.people):
        return Allowed()
    return Refused(
        reason=f"Only an approver of {environment} ({', '.join(env.approvers)}) can release "
        "it after an interrupted deploy."
    )


def check_release(
    config: Config, *, environment: str, person: str, reason: str | None
) -> Allowed | Refused:
    """A quarantined version is released by an approver of the environment (anyone in
    [people] where it needs no approval), with a reason for the audit."""
    env = config.environments[environment]
    if not (person in env.approvers or (not env.approval and person in config.people)):
        return Refused(
            reason=f"Only an approver of {environment} ({', '.join(env.approvers)}) can "
            "release a quarantined version there."
        )
    if not reason:
        return Refused(
            reason="Say why it is safe again: 'release SERVICE VERSION in ENVIRONMENT <reason>'."
        )
    return Allowed()
