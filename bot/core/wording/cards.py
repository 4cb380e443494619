"""What a message shows besides its text, read from the thread (pure): the approval card it
announces or closes (for channels that render one: Slack buttons, an approval email), and the
thread's topic (a stable email subject)."""

from bot.core.ports.outbound import ApprovalCard
from bot.core.thread.events import CronFired, MessageSent, UserMessage, WebhookReceived
from bot.core.thread.thread import Thread

__all__ = ["card_of", "topic_of"]


def _card_for(thread: Thread, message: MessageSent) -> ApprovalCard | None:
    """The approval request an approval message announces: the one open when it was sent
    (with any escalation group added)."""
    index = next(i for i, e in enumerate(thread.events) if e.id == message.id)
    before = thread.model_copy(update={"events": thread.events[:index]})
    open_approval = before.open_approval()
    if open_approval is None:
        return None
    request = open_approval.request
    return ApprovalCard(
        plan=open_approval.plan,
        plan_hash=request.plan_hash,
        approvers=open_approval.approvers,
        min_approvals=request.min_approvals,
        expires_at=request.expires_at,
        evidence=before.evidence_of(request.plan_hash),
    )


def card_of(thread: Thread, message: MessageSent) -> ApprovalCard | None:
    """The request an approval message asks for, or the one a message closes (a decision,
    an expiry), so channels can tell everyone who was asked."""
    if message.purpose == "approval_request":
        return _card_for(thread, message)
    if message.replaces is not None:
        for event in thread.events:
            if (
                isinstance(event, MessageSent)
                and event.id == message.replaces
                and event.purpose == "approval_request"
            ):
                return _card_for(thread, event)
    return None


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
