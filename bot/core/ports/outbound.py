"""What a channel adapter provides to the core: a way to deliver one message (with the
approval card it carries, ``bot.core.thread.approval_card``, recorded by the core)."""

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import Purpose
from bot.core.thread.origin import Origin
from bot.core.thread.text.actor import Actor
from bot.core.thread.text.outside import Text

__all__ = ["ApprovalCard", "OutboundMessage", "Sender"]


class OutboundMessage(BaseModel):
    """A message on its way out: a ``message_sent`` event of a thread, or a transient
    ``progress`` update (not recorded) that replaces the deploy's start message."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    message_id: str
    origin: Origin
    text: Text
    purpose: Purpose = "info"
    to: Actor | None = None  # only for this person
    replaces: str | None = None
    route: str | None = None  # deliver there instead of back to the origin
    topic: str = ""  # what the thread is about, for a subject line where a channel needs one
    card: ApprovalCard | None = None


class Sender(Protocol):
    async def send(self, message: OutboundMessage) -> None:
        """Deliver or raise; the outbox retries on any exception."""
        ...
