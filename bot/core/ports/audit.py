"""What a channel records for the audit and ``/metrics``: inputs it set aside, emails it
refused because our mail servers did not vouch for them.

``SetAsideLog`` is implemented by ``bot.shell.streams.set_aside.SetAsideInputs``,
``Refusals`` by ``bot.shell.streams.refusals.MailRefusals``.
"""

from typing import Protocol

from bot.core.thread.audit import MailRefusal
from bot.core.thread.set_aside import SetAside

__all__ = ["Refusals", "SetAsideLog"]


class SetAsideLog(Protocol):
    async def record(self, item: SetAside) -> None:
        """Log, keep and count ``item``; a store outage raises (the input is retried)."""
        ...

    async def record_quietly(self, item: SetAside) -> None:
        """``record`` for an edge that answers anyway: an outage is logged, never raised."""
        ...


class Refusals(Protocol):
    async def record(self, refusal: MailRefusal) -> None:
        """Keep and count one refused email."""
        ...

    async def notice_due(self, person: str, *, interval_s: float) -> bool:
        """True at most once per ``interval_s`` for ``person`` (claims the slot)."""
        ...
