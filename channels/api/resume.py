"""Resuming a thread over the API: is it waiting for this, and may this person say it?

A pure check answered synchronously (``409`` / ``403``) so a client learns at once; the worker
checks everything again when it handles the message, so a race between two clients is safe.
An accepted approval becomes a ``decision_received`` event carrying the plan hash the client
sent (the one GET showed it): an API decision is bound, as data, to the exact plan the client
was shown. An accepted message is sent as typed.

A cancel (``{"type": "cancel"}``, or a message saying ``cancel [plan id]``) is accepted only
while the thread is ``queued``, and, when it names a plan, only for the plan waiting in line
(``waiting.queue_view``) and only from the requester or one of the environment's approvers
(``check_cancel``, the loop's own rule: anyone else gets a 403 at once); it is sent as the
words ``cancel [plan id]`` from that person, and the loop checks it all again.
"""

from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.policy.approval import Allowed, NotOpen, Refused, check_decision_on
from bot.core.reading.commands import ApproveCommand, CancelCommand, RejectCommand
from bot.core.reading.grammar import parse_command
from bot.core.release.gate import check_cancel, waiting_deploy
from bot.core.thread.text.actor import Actor, ActorError
from bot.core.thread.thread import Thread

from .bodies import ApprovalResume, CancelResume, MessageResume, ResumeBody
from .waiting import queue_view

__all__ = [
    "Accept",
    "AcceptDecision",
    "Conflict",
    "Forbidden",
    "Invalid",
    "Verdict",
    "api_person",
    "check_resume",
]


class Accept(BaseModel):
    """Publish ``text`` as a message from ``actor``."""

    model_config = ConfigDict(frozen=True)

    actor: Actor
    text: str


class AcceptDecision(BaseModel):
    """Publish a decision by ``actor`` on the plan ``plan_hash``."""

    model_config = ConfigDict(frozen=True)

    actor: Actor
    decision: Literal["approve", "reject"]
    plan_hash: str
    reason: str | None = None


class Conflict(BaseModel):
    """409: the thread is not waiting for this."""

    model_config = ConfigDict(frozen=True)

    reason: str


class Forbidden(BaseModel):
    """403: this person may not say this."""

    model_config = ConfigDict(frozen=True)

    reason: str


class Invalid(BaseModel):
    """422: the body is well-formed but cannot be said as a chat message."""

    model_config = ConfigDict(frozen=True)

    reason: str


Verdict = Accept | AcceptDecision | Conflict | Forbidden | Invalid


def api_person(config: Config, user: str) -> str | None:
    """The [people] name an API body's ``user`` names; None for anyone else (or no name)."""
    try:
        actor = Actor.of("api", user.strip().lower())
    except ActorError:
        return None
    return config.person_for(actor)


def check_resume(*, thread: Thread, body: ResumeBody, config: Config, now: datetime) -> Verdict:
    person = api_person(config, body.user)
    if person is None:
        return Forbidden(
            reason=f"{body.user!r} is not in deploybot's [people]; only people listed in the "
            "config may speak in a thread."
        )
    actor = Actor.of("api", person)
    match body:
        case ApprovalResume(decision=decision, reason=reason, plan_hash=plan_hash):
            return _decision(
                thread,
                config=config,
                now=now,
                actor=actor,
                decision=decision,
                reason=reason,
                plan_hash=plan_hash,
            )
        case MessageResume(text=text):
            command = parse_command(
                text, services=config.services, environments=config.environments
            )
            if isinstance(command, ApproveCommand | RejectCommand):
                verdict = _decision(
                    thread,
                    config=config,
                    now=now,
                    actor=actor,
                    decision=command.command,
                    reason=None,
                    plan_id=command.plan_id,
                )
                # Sent as typed: the worker reads the same words a chat user would send (a
                # bare 'approve' counts only where it cannot mean another plan).
                if isinstance(verdict, AcceptDecision):
                    return Accept(actor=actor, text=text)
                return verdict
            if isinstance(command, CancelCommand):
                refused: Conflict | Forbidden | None = _nothing_to_cancel(
                    thread, plan_id=command.plan_id
                ) or _may_not_cancel(thread, config=config, person=person)
                return refused or Accept(actor=actor, text=text)
            if thread.status == "running":
                return Conflict(
                    reason=f"thread {thread.id} is still working (status running); send the "
                    "message once it waits for a human (poll GET /v1/threads/{id})."
                )
            return Accept(actor=actor, text=text)
        case CancelResume(plan_hash=plan_hash):
            plan_id = plan_hash[:16] if plan_hash is not None else None
            cancel_refused: Conflict | Forbidden | None = _nothing_to_cancel(
                thread, plan_id=plan_id
            ) or _may_not_cancel(thread, config=config, person=person)
            words = f"cancel {plan_id}" if plan_id is not None else "cancel"
            return cancel_refused or Accept(actor=actor, text=words)
        case _:
            assert_never(body)


def _may_not_cancel(thread: Thread, *, config: Config, person: str) -> Forbidden | None:
    """A 403 when ``person`` may not cancel what the thread waits for: the loop's own rule
    (``check_cancel``: the requester or an approver of the environment), answered at once
    instead of as a refusal in the thread after a 202."""
    waiting = waiting_deploy(thread)
    if waiting is None:
        return None  # nothing to cancel: _nothing_to_cancel said so first
    verdict = check_cancel(
        config, environment=waiting.environment, person=person, requester=waiting.requester
    )
    return Forbidden(reason=verdict.reason) if isinstance(verdict, Refused) else None


def _nothing_to_cancel(thread: Thread, *, plan_id: str | None) -> Conflict | None:
    """A 409 when the thread has nothing to cancel, or not the plan ``plan_id`` names."""
    if thread.status != "queued":
        return Conflict(
            reason=f"thread {thread.id} has nothing to cancel (status {thread.status}): only "
            "a queued deploy, waiting in line or for its soak or a freeze, can be cancelled."
        )
    view = queue_view(thread)
    in_line = view.plan_hash if view is not None else None
    if plan_id is None or (in_line is not None and in_line.startswith(plan_id)):
        return None
    if in_line is None:
        return Conflict(
            reason=f"no plan waits in line in thread {thread.id} (its deploy waits to be "
            "planned); nothing was cancelled. Send the cancel without plan_hash."
        )
    return Conflict(
        reason=f"plan #{plan_id} is not the plan waiting in line (#{in_line[:4]} is); "
        "nothing was cancelled. GET the thread: queue.plan_hash names the plan waiting."
    )


def _decision(
    thread: Thread,
    *,
    config: Config,
    now: datetime,
    actor: Actor,
    decision: Literal["approve", "reject"],
    reason: str | None,
    plan_id: str | None = None,
    plan_hash: str | None = None,
) -> Verdict:
    named = plan_hash if plan_hash is not None else plan_id
    verdict = check_decision_on(
        thread, config=config, actor=actor, decision=decision, plan_ref=named, now=now
    )
    match verdict:
        case NotOpen(open_plan=None):
            return Conflict(
                reason=f"thread {thread.id} is not waiting for an approval "
                f"(status {thread.status})."
            )
        case NotOpen(open_plan=plan):
            assert named is not None
            assert plan is not None
            return Conflict(
                reason=f"plan #{named[:16]} is not the plan waiting for a decision "
                f"(#{plan.short_id} is: {plan.describe()}); nothing was decided. GET the "
                "thread to see the plan you are deciding."
            )
        case Refused(reason=why, stale=True):
            return Conflict(reason=why)  # expired, already approved by them, ambiguous
        case Refused(reason=why):
            return Forbidden(reason=why)
        case Allowed():
            pass
        case _:
            assert_never(verdict)
    open_approval = thread.open_approval()
    assert open_approval is not None
    plan = open_approval.plan
    return AcceptDecision(
        actor=actor,
        decision=decision,
        plan_hash=plan.plan_hash,
        reason=reason if decision == "reject" else None,
    )
