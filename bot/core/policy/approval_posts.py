"""Where an approval request is posted, and how every copy of it is closed. Pure.

A request goes back to the thread's origin, and also to the environment's
``approval_channel`` when the origin does not already reach it (a Slack-started thread
approved by email, a schedule approved in Slack). An unanswered request escalates to
``escalate_to``. Each place holds an ``approval_request`` message; the first decision (the
thread's compare-and-set makes it the only one) closes them all, each with a message that
replaces it there, so every channel is told. A refusal goes to where the person answered.
"""

from collections.abc import Callable, Iterator
from datetime import datetime

from bot.core.config.config import Config, Environment
from bot.core.config.route import origin_route, reaches, route_kind
from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import ApprovalEscalated, ApprovalRequested, MessageSent, Purpose
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval, Thread
from bot.core.wording.messages import approval_request_text

__all__ = [
    "approval_message_id",
    "closing_messages",
    "escalation",
    "everywhere",
    "reply_route",
    "request_messages",
    "requests_for",
]


def _emailed(config: Config, approvers: list[str]) -> frozenset[str]:
    """The approvers' addresses: an email-thread approval request is sent to each of them."""
    return frozenset(
        p.email.lower() for name in approvers if (p := config.people[name]).email is not None
    )


def _message(
    text: str,
    purpose: Purpose,
    *,
    now: datetime,
    new_id: Callable[[], str],
    route: str | None = None,
    replaces: str | None = None,
    card: ApprovalCard | None = None,
) -> MessageSent:
    return MessageSent(
        id=new_id(), at=now, text=text, purpose=purpose, route=route, replaces=replaces, card=card
    )


def requests_for(
    thread: Thread,
    *,
    config: Config,
    plan: Plan,
    request: ApprovalRequested,
    now: datetime,
    new_id: Callable[[], str],
) -> list[MessageSent]:
    """The approval request in the thread, and its copy in the approval channel if any."""
    env = config.environments[plan.environment]
    asked_before = any(
        isinstance(e, ApprovalRequested) and e.plan_hash != plan.plan_hash for e in thread.events
    )
    text = approval_request_text(
        plan,
        approvers=request.approvers,
        min_approvals=request.min_approvals,
        timeout_s=env.approval_timeout_s,
        name_the_plan=asked_before,
        evidence=thread.evidence_of(plan.plan_hash),
    )
    messages = [_message(text, "approval_request", now=now, new_id=new_id)]
    channel = env.approval_channel
    if channel and not reaches(thread.origin, channel, emailed=_emailed(config, request.approvers)):
        messages.append(_message(text, "approval_request", now=now, new_id=new_id, route=channel))
    return messages


def escalation(
    thread: Thread,
    *,
    env: Environment,
    config: Config,
    open_approval: OpenApproval,
    now: datetime,
    new_id: Callable[[], str],
) -> list[ApprovalEscalated | MessageSent]:
    """Nobody decided in time: widen the request to the escalation group and channel."""
    plan, request = open_approval.plan, open_approval.request
    extra = [
        p
        for p in env.escalate_approvers
        if p not in open_approval.approvers and (env.self_approval or p != plan.requester)
    ]
    approvers = [*open_approval.approvers, *extra]
    route = env.escalate_to
    if route is not None and reaches(thread.origin, route, emailed=_emailed(config, approvers)):
        route = None  # the thread itself already reaches it
    waited_min = round((now - request.at).total_seconds() / 60)
    asked = ", ".join(extra) if extra else "more people"
    where = f" in {env.escalate_to}" if env.escalate_to else ""
    note = (
        f"Nobody has decided plan #{plan.short_id} ({plan.describe()}) in {waited_min} min; "
        f"escalating: asking {asked}{where} too. It still expires at "
        f"{request.expires_at:%H:%M} UTC."
    )
    card_text = "Escalated: no decision yet.\n" + approval_request_text(
        plan,
        approvers=[p for p in approvers if p not in open_approval.approved_by],
        min_approvals=request.min_approvals,
        timeout_s=(request.expires_at - now).total_seconds(),
        name_the_plan=any(
            isinstance(e, ApprovalRequested) and e.plan_hash != plan.plan_hash
            for e in thread.events
        ),
        evidence=thread.evidence_of(plan.plan_hash),
    )

    escalated = ApprovalEscalated(
        id=new_id(), at=now, plan_hash=plan.plan_hash, to=env.escalate_to, approvers=extra
    )
    if route is None:
        # Ask again in the thread, in place of the first request where the channel can edit
        # (a Slack card gains the new approvers); by email the new approvers get tokens.
        first = approval_message_id(thread)
        again = _message(
            f"{note}\n\n{card_text}", "approval_request", now=now, new_id=new_id, replaces=first
        )
        return [escalated, again]
    return [
        escalated,
        _message(note, "question", now=now, new_id=new_id),
        _message(card_text, "approval_request", now=now, new_id=new_id, route=route),
    ]


def _since_request(thread: Thread) -> Iterator[MessageSent]:
    """The messages after the newest approval request."""
    for event in reversed(thread.events):
        if isinstance(event, ApprovalRequested):
            return
        if isinstance(event, MessageSent):
            yield event


def request_messages(thread: Thread) -> list[MessageSent]:
    """Every message that asked for the newest approval (the thread's and its copies)."""
    return [m for m in _since_request(thread) if m.purpose == "approval_request"][::-1]


def approval_message_id(thread: Thread) -> str | None:
    """The message in the thread itself that asked for the newest approval."""
    for message in reversed(request_messages(thread)):
        if message.route is None:
            return message.id
    return None


def closing_messages(
    thread: Thread, *, text: str, purpose: Purpose, now: datetime, new_id: Callable[[], str]
) -> list[MessageSent]:
    """One message per place the newest request was posted, each replacing it there and
    carrying its card (who was asked); the thread's own comes first."""
    asked = request_messages(thread)
    own = [m for m in asked if m.route is None][-1:]
    copies = [m for m in asked if m.route is not None]
    first, card = (own[0].id, own[0].card) if own else (None, None)
    out = [_message(text, purpose, now=now, new_id=new_id, replaces=first, card=card)]
    # Progress updates stay in the thread; elsewhere this is news that stays.
    copy_purpose: Purpose = "info" if purpose == "progress" else purpose
    out += [
        _message(
            text, copy_purpose, now=now, new_id=new_id, route=c.route, replaces=c.id, card=c.card
        )
        for c in copies
    ]
    return out


def everywhere(
    thread: Thread, *, text: str, purpose: Purpose, now: datetime, new_id: Callable[[], str]
) -> list[MessageSent]:
    """The same news in the thread and in every other place the newest request went."""
    routes = dict.fromkeys(m.route for m in request_messages(thread) if m.route is not None)
    return [
        _message(text, purpose, now=now, new_id=new_id, route=route) for route in [None, *routes]
    ]


def reply_route(thread: Thread, actor: Actor) -> str | None:
    """Where an answer meant for ``actor`` alone goes: the copy of the request they most
    likely answered, or their own address; None means the thread itself."""
    kind = actor.channel
    if kind not in ("slack", "email"):
        return None
    for message in reversed(thread.events):
        if (
            isinstance(message, MessageSent)
            and message.purpose == "approval_request"
            and message.route
            and route_kind(message.route) == kind
        ):
            return message.route
    own = origin_route(thread.origin)
    if own is not None and route_kind(own) == kind:
        return None
    return actor if kind == "email" else None
