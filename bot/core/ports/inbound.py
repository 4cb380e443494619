"""The inbound stream as a channel sees it: publish one event, durably, before anyone is
told "ok".

``Envelope`` is what travels (one event and the thread it belongs to); ``agent_for`` picks
the small agent a new thread gets. ``Inbound`` is implemented by
``bot.shell.streams.inbound.InboundQueue``.
"""

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.events import Event
from bot.core.thread.origin import Origin

__all__ = ["Envelope", "Inbound", "agent_for"]


class Envelope(BaseModel):
    """One inbound event and the thread it belongs to. ``origin`` starts a new thread."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    event: Event
    origin: Origin | None = None
    agent: Literal["deploy", "rollback"] = "deploy"


def agent_for(text: str) -> Literal["deploy", "rollback"]:
    """Which small agent a new thread gets: rollback requests go to the rollback agent."""
    words = text.lower().split()
    if words[:1] == ["rollback"] or words[:2] == ["roll", "back"] or "revert" in words:
        return "rollback"
    return "deploy"


class Inbound(Protocol):
    async def publish(self, envelope: Envelope) -> str:
        """Append durably; returns the stream entry id. Call before acknowledging a sender."""
        ...
