"""The outbox as a channel sees it: a notice queued by the channel itself (a refusal, a note
to a person), and, for a channel that shows replies in-process (the terminal), its own
replies delivered on demand.

Both are implemented by ``bot.shell.streams.outbox.Outbox``.
"""

from typing import Protocol

from bot.core.ports.outbound import OutboundMessage, Sender

__all__ = ["Notices", "Replies"]


class Notices(Protocol):
    async def send_transient(self, message: OutboundMessage) -> None:
        """Queue a message that is not recorded in any thread (losing or repeating one is
        harmless); delivered by the deliverer of its route's channel."""
        ...


class Replies(Protocol):
    async def ensure_group(self, channel: str) -> None:
        """Make the channel's outbox stream readable (idempotent)."""
        ...

    async def deliver_some(
        self, *, channel: str, sender: Sender, consumer: str, block_ms: int | None
    ) -> int:
        """Hand what waits for ``channel`` to ``sender``; how many were delivered."""
        ...
