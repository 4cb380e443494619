"""Deploy announcements (issue 19): an environment's ``announce`` route hears of each deploy
and rollback there, started, finished, verified or rolled back. Pure.

One announcement per deploy: its first message (at its start) opens it, and every later one
``replaces`` that first message, so Slack edits one message in place; email cannot edit, so
each update is a new mail in the same email thread (``channels/email/compose.py``). Each is a
``message_sent`` recorded with the event it tells of, in the same save, and delivered by the
outbox like every message (write-ahead: never lost, never sent twice within the channel's
means). The words are ``bot.core.release.announcement_words``.

Nothing is announced where the environment names no ``announce`` route, nor where the
thread's own replies already go there (a thread started in the announce channel itself, a
schedule reporting to it); an email route leaves out the addresses the thread's own mails
already reach.
"""

from collections.abc import Callable
from datetime import datetime

from bot.core.config.config import Config
from bot.core.config.environment import Environment
from bot.core.config.route import email_addresses, origin_route, route_kind
from bot.core.policy.verification import ToVerify, verification_for
from bot.core.release.announcement_words import AnnouncedFacts, Moment, announcement_text
from bot.core.thread.events import (
    DeployFinished,
    DeployStarted,
    MessageSent,
    VerificationFinished,
)
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread

__all__ = ["Moment", "announce", "announce_route", "first_announcement"]


def announce_route(thread: Thread, env: Environment) -> str | None:
    """Where ``env``'s deploys are announced for ``thread``: None without an ``announce``
    route or where the thread's own replies already go there; an email route without the
    addresses the thread's own mails reach (None when that leaves nobody)."""
    route = env.announce
    if route is None:
        return None
    own = origin_route(thread.origin)
    if own is None:
        return route
    if route_kind(route) == "slack" or route_kind(own) == "slack":
        return None if own == route else route
    reached = set(email_addresses(own))
    left = [a for a in email_addresses(route) if a not in reached]
    return "email:" + ",".join(left) if left else None


def first_announcement(thread: Thread, *, plan_hash: str, route: str) -> str | None:
    """The id of the first announcement of ``plan_hash``'s deploy along ``route`` (the one
    every later announcement of it replaces); None when there is none yet.

    It is the first message to ``route`` after the deploy's start that replaces nothing
    (an approval request's copy closed at the start replaces that request) and is plain
    news, before any later deploy in the thread started."""
    started = False
    for event in thread.events:
        if isinstance(event, DeployStarted):
            if started:
                return None  # a later deploy: this one's announcement would be before it
            started = event.plan_hash == plan_hash
        elif (
            started
            and isinstance(event, MessageSent)
            and event.route == route
            and event.replaces is None
            and event.to is None
            and event.purpose == "info"
        ):
            return event.id
    return None


def announce(
    thread: Thread,
    *,
    config: Config,
    plan: Plan,
    moment: Moment,
    now: datetime,
    new_id: Callable[[], str],
) -> list[MessageSent]:
    """The announcement to record for ``plan``'s deploy at ``moment``, with the event that
    is that moment, in the same save: one message, or none where nothing is announced.

    The facts come from ``thread`` (its start, result, verification, approvals, evidence);
    ``now`` stands for a moment's time the thread does not hold yet (a start being saved)."""
    env = config.environments.get(plan.environment)
    route = None if env is None else announce_route(thread, env)
    if route is None:
        return []
    text = announcement_text(plan, moment=moment, facts=_facts(thread, config, plan, moment, now))
    first = (
        None
        if moment == "started"
        else first_announcement(thread, plan_hash=plan.plan_hash, route=route)
    )
    return [
        MessageSent(id=new_id(), at=now, text=text, purpose="info", route=route, replaces=first)
    ]


def _facts(
    thread: Thread, config: Config, plan: Plan, moment: Moment, now: datetime
) -> AnnouncedFacts:
    plan_hash = plan.plan_hash
    started: DeployStarted | None = None
    finished: DeployFinished | None = None
    verdict: VerificationFinished | None = None
    for event in thread.events:
        if isinstance(event, DeployStarted | DeployFinished | VerificationFinished) and (
            event.plan_hash == plan_hash
        ):
            if isinstance(event, DeployStarted):
                started = event
            elif isinstance(event, DeployFinished):
                finished = event
            else:
                verdict = event
    at = now
    verifying: tuple[int, float] | None = None
    rolled_back_to: str | None = None
    match moment:
        case "started":
            at = started.at if started is not None else now
        case "succeeded" | "failed" | "timed_out":
            at = finished.at if finished is not None else now
            wanted = verification_for(config, service=plan.service, environment=plan.environment)
            # Only deploys are verified (a rollback goes back to a version verified before).
            if moment == "succeeded" and plan.kind == "deploy" and isinstance(wanted, ToVerify):
                verifying = (len(wanted.checks), wanted.verify_s)
        case "verified" | "verification_failed":
            at = verdict.at if verdict is not None else now
        case "rolled_back":
            undone = _rolled_back_by(thread, plan)
            if undone is not None:
                rolled_back_to, at = undone[0].version, undone[1]
        case "interrupted":
            pass
    return AnnouncedFacts(
        at=at,
        approvers=thread.approvers_of(plan.plan_hash),
        evidence=thread.evidence_of(plan.plan_hash),
        duration_s=finished.duration_s if finished is not None else None,
        exit_code=finished.exit_code if finished is not None else None,
        link=finished.link if finished is not None else None,
        verifying=verifying,
        summary=verdict.summary if verdict is not None else None,
        rolled_back_to=rolled_back_to,
    )


def _rolled_back_by(thread: Thread, plan: Plan) -> tuple[Plan, datetime] | None:
    """The rollback of ``plan``'s service and environment that succeeded after ``plan``'s
    deploy started in this thread (the newest), and when it finished."""
    found: tuple[Plan, datetime] | None = None
    started = False
    for event in thread.events:
        if isinstance(event, DeployStarted) and event.plan_hash == plan.plan_hash:
            started = True
        elif started and isinstance(event, DeployFinished) and event.result == "succeeded":
            other = thread.plan(event.plan_hash)
            if (
                other is not None
                and other.kind == "rollback"
                and (other.service, other.environment) == (plan.service, plan.environment)
            ):
                found = (other, event.at)
    return found
