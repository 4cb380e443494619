"""What a message shows besides its text (pure): the approval card it asks for or closes, and
the thread's topic (a stable email subject).

A card is data recorded on the message (``MessageSent.card``) when the core appends it: an
approval request carries the request open when it is sent (with any escalation group added),
``cards_for`` fills it; a message that closes one carries that one's card
(``bot.core.policy.approval_posts.closing_messages`` copies it). The outbox and the channels
take ``message.card`` as recorded and never replay the thread for it.

Threads stored before cards were recorded get theirs once, on load (``with_cards``, called by
the codec), derived from the events by the same rule, so a pending request stored by older
code still renders as its card.
"""

from collections.abc import Sequence

from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import CronFired, Event, MessageSent, UserMessage, WebhookReceived
from bot.core.thread.thread import Thread

__all__ = ["cards_for", "open_card", "topic_of", "with_cards"]


def open_card(thread: Thread) -> ApprovalCard | None:
    """The card of the approval request open at the end of ``thread``, if any."""
    open_approval = thread.open_approval()
    if open_approval is None:
        return None
    request = open_approval.request
    return ApprovalCard(
        plan=open_approval.plan,
        plan_hash=request.plan_hash,
        approvers=open_approval.approvers,
        min_approvals=request.min_approvals,
        expires_at=request.expires_at,
        evidence=thread.evidence_of(request.plan_hash),
    )


def cards_for(thread: Thread, new: Sequence[Event]) -> list[Event]:
    """``new``, about to be appended to ``thread``, with each message's card recorded: an
    approval request's is the request open when it is sent; a message that replaces an
    approval request carries that request's card. Recorded cards are kept."""
    out: list[Event] = []
    asked: dict[str, ApprovalCard | None] = {}  # approval request message id -> its card
    for event in [*thread.events, *new]:
        if isinstance(event, MessageSent) and event.purpose == "approval_request":
            asked[event.id] = event.card
    for event in new:
        if isinstance(event, MessageSent) and event.card is None:
            card = None
            if event.purpose == "approval_request":
                card = open_card(thread.model_copy(update={"events": [*thread.events, *out]}))
                asked[event.id] = card
            elif event.replaces is not None:
                card = asked.get(event.replaces)
            if card is not None:
                event = event.model_copy(update={"card": card})
        out.append(event)
    return out


def with_cards(thread: Thread) -> Thread:
    """``thread`` with every approval message's card, for a thread stored before cards were
    recorded; a thread whose requests all carry theirs comes back as it is."""
    if all(
        event.card is not None
        for event in thread.events
        if isinstance(event, MessageSent) and event.purpose == "approval_request"
    ):
        return thread
    empty = thread.model_copy(update={"events": []})
    return thread.model_copy(update={"events": cards_for(empty, thread.events)})


def topic_of(thread: Thread) -> str:
    """The thread's first request, in a few words (a stable email subject)."""
    for event in thread.events:
        match event:
            case UserMessage(text=text):
                break
            case CronFired(schedule=name, instruction=instruction):
                text = f"{name}: {instruction}"
                break
            case WebhookReceived(name=name, instruction=instruction):
                text = f"{name}: {instruction}"
                break
            case _:
                continue
    else:
        return f"thread {thread.id}"
    words = " ".join(text.split())
    return words if len(words) <= 80 else words[:79] + "…"
