"""Resuming a thread over the API: is it waiting for this, and may this person say it?

A pure check answered synchronously (``409`` / ``403``) so a client learns at once; the worker
checks everything again when it handles the message, so a race between two clients is safe.
The accepted answer is the chat text the worker will read (``approve #<plan hash>``): an API
decision is bound to the exact plan the client was shown.
"""

from datetime import datetime
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict

from bot.commands import ApproveCommand, RejectCommand
from bot.config import Config
from bot.grammar import parse_command
from bot.policy import Allowed, Refused, check_decision
from bot.thread import Thread

from .bodies import ApprovalResume, MessageResume

__all__ = ["Accept", "Conflict", "Forbidden", "Invalid", "Verdict", "check_resume"]


class Accept(BaseModel):
    """Publish ``text`` as a message from ``actor``."""

    model_config = ConfigDict(frozen=True)

    actor: str
    text: str


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


Verdict = Accept | Conflict | Forbidden | Invalid


def _person(config: Config, user: str) -> str | None:
    return config.person_for(f"api:{user.strip().lower()}")


def check_resume(
    *, thread: Thread, body: ApprovalResume | MessageResume, config: Config, now: datetime
) -> Verdict:
    person = _person(config, body.user)
    if person is None:
        return Forbidden(
            reason=f"{body.user!r} is not in deploybot's [people]; only people listed in the "
            "config may speak in a thread."
        )
    actor = f"api:{person}"
    match body:
        case ApprovalResume(decision=decision, reason=reason):
            return _decision(
                thread, config=config, now=now, actor=actor, decision=decision, reason=reason
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
                # Sent as typed: the worker reads the same words a chat user would send.
                return Accept(actor=actor, text=text) if isinstance(verdict, Accept) else verdict
            if thread.status == "running":
                return Conflict(
                    reason=f"thread {thread.id} is still working (status running); send the "
                    "message once it waits for a human (poll GET /v1/threads/{id})."
                )
            return Accept(actor=actor, text=text)
        case _:
            assert_never(body)


def _decision(
    thread: Thread,
    *,
    config: Config,
    now: datetime,
    actor: str,
    decision: Literal["approve", "reject"],
    reason: str | None,
    plan_id: str | None = None,
) -> Verdict:
    open_approval = thread.open_approval()
    if open_approval is None:
        return Conflict(
            reason=f"thread {thread.id} is not waiting for an approval (status {thread.status})."
        )
    plan = open_approval.plan
    if plan_id and not plan.plan_hash.startswith(plan_id.lower()):
        return Conflict(
            reason=f"plan #{plan_id[:4]} is not the one waiting for a decision "
            f"(#{plan.short_id} is); nothing was changed."
        )
    expires_at = open_approval.request.expires_at
    if now >= expires_at:
        return Conflict(
            reason=f"plan #{plan.short_id} expired at {expires_at:%Y-%m-%d %H:%M} UTC; "
            "ask for the deploy again."
        )
    person = actor.partition(":")[2]
    if decision == "approve" and person in open_approval.approved_by:
        return Conflict(reason=f"{person} has already approved plan #{plan.short_id}.")
    verdict = check_decision(
        config=config, open_approval=open_approval, actor=actor, decision=decision, now=now
    )
    match verdict:
        case Refused(reason=why):
            return Forbidden(reason=why)
        case Allowed():
            pass
        case _:
            assert_never(verdict)
    text = f"{decision} #{plan.plan_hash}"
    if reason and decision == "reject":  # the grammar (and the event) keep no approve reason
        text += f" {reason}"
    else:
        reason = None
    command = parse_command(text, services=config.services, environments=config.environments)
    expected = (
        ApproveCommand(plan_id=plan.plan_hash)
        if decision == "approve"
        else RejectCommand(plan_id=plan.plan_hash, reason=reason)
    )
    if command != expected:  # the reason validator should make this impossible
        return Invalid(reason="reason: cannot be sent with a decision; rephrase it")
    return Accept(actor=actor, text=text)
