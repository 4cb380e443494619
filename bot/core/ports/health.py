"""How a channel's long-running loop says it is doing (an IMAP session lost and retried).

Implemented by ``bot.shell.runtime.tasks.TaskHandle``, which feeds ``/healthz``.
"""

from typing import Protocol

__all__ = ["Health"]


class Health(Protocol):
    def recovering(self, reason: str) -> None:
        """Retrying after ``reason`` (said once per episode)."""
        ...

    def recovered(self) -> None:
        """Working again."""
        ...
