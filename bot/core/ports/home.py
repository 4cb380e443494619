"""What the Slack App Home needs beyond the board: who opened it lately, what each of them
was last shown, and a signal that something the board shows may have changed.

- ``HomeViewers``: people record themselves by opening the Home tab; a refresh republishes
  only to those who opened it within a while. ``claim`` makes each view go out once: it
  records a view's fingerprint as shown unless it was already, atomically, so two processes
  refreshing at once publish it once; ``unclaim`` takes it back when publishing failed.
- ``BoardChanges``: ``wait`` returns True once something happened that may change the
  board (a message recorded in any thread: a deploy started or finished, a lock, an approval
  requested or decided), False when ``timeout_s`` passed without.

``HomePorts`` carries them with the ``BoardSource``, built once by the wiring (on the
shell's ``bot.shell.home.board``, ``home_viewers`` and ``board_changes``).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.ports.board import BoardSource

__all__ = ["BoardChanges", "HomePorts", "HomeViewers"]


class HomeViewers(Protocol):
    async def opened(self, user: str, *, at: datetime) -> None:
        """The Slack user ``user`` opened the Home tab at ``at``."""
        ...

    async def recent(self, *, since: datetime) -> list[str]:
        """Who opened it at or after ``since`` (Slack user ids); older entries are dropped."""
        ...

    async def claim(self, user: str, *, fingerprint: str) -> bool:
        """Record ``fingerprint`` as ``user``'s view; False when it already was."""
        ...

    async def unclaim(self, user: str, *, fingerprint: str) -> None:
        """Forget ``fingerprint`` as ``user``'s view (its publishing failed), unless another
        view was claimed since."""
        ...


class BoardChanges(Protocol):
    async def wait(self, *, timeout_s: float) -> bool:
        """True once something may have changed the board (at once if something did since
        the last call); False after ``timeout_s`` (0: just look)."""
        ...


@dataclass(frozen=True, kw_only=True)
class HomePorts:
    board: BoardSource
    viewers: HomeViewers
    changes: BoardChanges
