"""Why policy refused, in words: one sentence per ``bot.core.thread.refusals`` reason. Where
an event stores the reason (``ApprovalRefused.reason``, an error's message), the text is
made here at the point the event is made, so stored threads read as before. Pure."""

from datetime import datetime
from typing import assert_never

from bot.core.thread.refusals import (
    AlreadyApproved,
    AmbiguousApprove,
    CancelNotAllowed,
    CommitQuarantined,
    EnvironmentLocked,
    GoesBackwards,
    LiveChanged,
    NobodyMayRelease,
    NotAnApprover,
    NotAPerson,
    NotItsEnvironment,
    OwnRequest,
    PlanExpired,
    Refusal,
    ReleaseInterruptedNotAllowed,
    ReleaseNotAllowed,
    ReleaseWithoutReason,
    RollbackNoLongerUndoes,
    TagGone,
    TagMoved,
    UnknownRequester,
    UnknownService,
    UnlockNotAllowed,
)
from bot.core.wording.messages import locked_text

__all__ = ["quarantined_text", "refusal_text"]


def refusal_text(why: Refusal) -> str:
    """The sentence a person reads for ``why``."""
    match why:
        case CancelNotAllowed(requester=requester, approvers=names):
            who = " or ".join([requester, *names])
            return f"Only {who} can cancel this; it stays in line."
        case UnknownRequester(who=who, asking=asking):
            return (
                f"I don't know {who}: only people listed in deploybot's config may {asking}. "
                "Nothing was deployed."
            )
        case NotAPerson(who=who):
            return f"{who} is not in deploybot's list of people, so cannot decide."
        case PlanExpired(plan_short_id=short_id, expires_at=at):
            return f"Plan #{short_id} expired at {at:%H:%M} UTC; ask for the deploy again."
        case NotAnApprover(person=person, decision=decision, environment=env, approvers=names):
            return f"{person} can't {decision} deploys to {env}; approvers: {', '.join(names)}."
        case OwnRequest(person=person, environment=env):
            return f"{person} asked for this deploy, and {env} needs someone else's approval."
        case AlreadyApproved(person=person, plan_short_id=short_id):
            return f"{person} has already approved plan #{short_id}."
        case AmbiguousApprove(plan=plan):
            return (
                "This thread has asked approval for more than one plan, so a bare 'approve' "
                f"could mean the wrong one. The plan waiting now is #{plan.short_id}: "
                f"{plan.describe()}, asked by {plan.requester}. To approve exactly that, say "
                f"'approve {plan.short_id}'. Nothing was changed."
            )
        case UnknownService(service=service, known=known):
            return f"unknown service {service!r}; known: {', '.join(known)}"
        case NotItsEnvironment(service=service, environment=env, environments=envs):
            return f"{service} cannot be deployed to {env!r}; its environments: {', '.join(envs)}"
        case EnvironmentLocked(environment=env, who=who, why=reason, since=since):
            return (
                locked_text(env, who=who, why=reason, since=since)
                + f" Ask {who} to 'unlock {env}' first."
            )
        case UnlockNotAllowed(environment=env, locked_by=holder, approvers=approvers):
            others = f" or an approver of {env} ({', '.join(approvers)})" if approvers else ""
            return f"Only {holder}{others} can unlock {env}."
        case ReleaseInterruptedNotAllowed(environment=env, approvers=approvers):
            return (
                f"Only an approver of {env} ({', '.join(approvers)}) can release it after an "
                "interrupted deploy."
            )
        case NobodyMayRelease(environment=env):
            return (
                f"Nobody may release a quarantined version in {env}: the config names no "
                "release_by and no approvers for it. To allow someone, add "
                f'release_by = ["<name from [people]>"] to [environments.{env}].'
            )
        case ReleaseNotAllowed(environment=env, person=person, releasers=allowed, named_by=key):
            return (
                f"Only {_names(allowed)} may release a quarantined version in {env} "
                f"({key} of {env}); {person} may not."
            )
        case ReleaseWithoutReason():
            return "Say why it is safe again: 'release SERVICE VERSION in ENVIRONMENT <reason>'."
        case CommitQuarantined():
            return quarantined_text(why)
        case GoesBackwards(service=service, environment=env, live=live, version=version):
            return (
                f"That would roll {service} in {env} back from {live} to {version}; "
                f"say 'rollback {service} in {env} to {version}' if you mean it. "
                "Nothing was deployed."
            )
        case LiveChanged():
            return _live_changed(why)
        case TagGone(service=service, version=version):
            return f"the tag {version} no longer exists in {service}."
        case TagMoved(version=version, now_sha=now_sha, planned_sha=planned_sha):
            return (
                f"the tag {version} now points at {now_sha[:7]}, not {planned_sha[:7]} as planned."
            )
        case RollbackNoLongerUndoes(environment=env, now_version=now, failed_version=failed):
            return f"{env} is now {now}, not {failed}, whose verification failed."
        case _:
            assert_never(why)


def quarantined_text(why: CommitQuarantined) -> str:
    """Why a plan for a quarantined commit is refused, naming the alias it was asked by."""
    entry = why.entry
    name = why.asked or entry.version
    alias = ""
    if name != entry.version:
        commit = f"commit {entry.sha[:7]}" if entry.sha else "the same commit"
        alias = f": it is {commit}, quarantined as {entry.version}"
    return (
        f"{why.service} {name} is quarantined in {why.environment}{alias} (by {entry.by} at "
        f"{entry.at[:16].replace('T', ' ')} UTC: {entry.reason}). Nothing was deployed; "
        f"someone who may release it there can say 'release {why.service} {name} in "
        f"{why.environment} <reason>' to allow it again."
    )


def _names(people: tuple[str, ...]) -> str:
    return people[0] if len(people) == 1 else f"{', '.join(people[:-1])} or {people[-1]}"


def _ago(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    if seconds < 36 * 3600:
        return f"{round(seconds / 3600)} h ago"
    return f"on {then:%Y-%m-%d}"


def _live_changed(why: LiveChanged) -> str:
    """The live deploy now against the one the plan was made against; where both have the
    same name, the commits are what differ, so they are named."""
    plan, live = why.plan, why.live
    same_name = live is not None and live.version == plan.previous_version
    if live is None:
        now_text = f"{plan.environment} has no successful deploy of {plan.service} now"
    else:
        when = _ago(datetime.fromisoformat(live.at), why.now)
        at = f" at {live.sha[:7]}" if same_name else ""
        now_text = (
            f"{plan.environment} is now {live.version}{at}, deployed by {live.requester} {when}"
        )
    made = plan.previous_version or "nothing deployed"
    if same_name and plan.previous_sha:
        made += f" at {plan.previous_sha[:7]}"
    return f"{now_text}; this plan was made against {made}."
