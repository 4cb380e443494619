"""What a channel adapter provides to the core: a way to deliver one message."""

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.origin import Origin

__all__ = ["OutboundMessage", "Sender"]


class OutboundMessage(BaseModel):
    """A message recorded in a thread (a ``message_sent`` event) on its way out."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    message_id: str
    origin: Origin
    text: str
    purpose: Literal["info", "question", "approval_request", "result", "error"] = "info"


class Sender(Protocol):
    async def send(self, message: OutboundMessage) -> None:
        """Deliver or raise; the outbox retries on any exception."""
        ...
