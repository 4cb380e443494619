"""Keeping open App Homes current: republish when the board changes, debounced.

``HomeRefresher`` waits for a change (``BoardChanges``: a message recorded in any thread),
then runs a refresh round (``HomePublisher.refresh``) once the ``Debounce`` says it is due:
``settle_s`` after the first change, so a burst (a decision, the deploy it starts, the
lock) makes one round, and never sooner than ``interval_s`` after the last round began, so a
person's home is republished at most once per interval however busy the bot is. A change
during a round makes one more round after it; a 429 puts the next round where Slack said.
Rounds publish only views that changed, to people who opened the tab lately.

It runs beside the Slack deliverer (``deploybot worker``, ``deploybot run``); every process
may run one: a view goes out once whichever of them renders it first (``HomeViewers.claim``).
A Redis outage is waited out (and said, through ``health``); any other failure is logged and
the next change tries again: a stale home is never worth a dead worker.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable

from bot.core.errors import StoreUnavailable
from bot.core.ports.health import Health
from bot.core.ports.home import BoardChanges
from channels.slack.home.publish import HomePublisher, RateLimited

__all__ = ["Debounce", "HomeRefresher"]

log = logging.getLogger("deploybot.slack")


class Debounce:
    """When the next round is due (pure; seconds on one monotonic clock)."""

    def __init__(self, *, settle_s: float, interval_s: float) -> None:
        self.settle_s = settle_s
        self.interval_s = interval_s
        self.due_s: float | None = None
        self._last_s = -math.inf

    def changed(self, now_s: float) -> None:
        """Something changed at ``now_s``: a round is due, unless one is already."""
        if self.due_s is None:
            self.due_s = max(now_s + self.settle_s, self._last_s + self.interval_s)

    def ready(self, now_s: float) -> bool:
        return self.due_s is not None and now_s >= self.due_s

    def ran(self, now_s: float) -> None:
        """A round began at ``now_s``."""
        self.due_s = None
        self._last_s = now_s

    def limited(self, now_s: float, retry_after_s: float) -> None:
        """Slack said to wait ``retry_after_s``: the round is due again then."""
        self.due_s = now_s + retry_after_s

    def wait_s(self, now_s: float, *, most_s: float) -> float:
        """How long to wait for changes before looking again (at most ``most_s``)."""
        if self.due_s is None:
            return most_s
        return min(max(self.due_s - now_s, 0.0), most_s)


class HomeRefresher:
    def __init__(
        self,
        *,
        publisher: HomePublisher,
        changes: BoardChanges,
        settle_s: float = 1.0,
        interval_s: float = 5.0,
        idle_s: float = 2.0,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publisher = publisher
        self._changes = changes
        self._idle_s = idle_s
        self._clock_s = clock_s
        self.debounce = Debounce(settle_s=settle_s, interval_s=interval_s)

    async def step(self, *, wait_s: float | None = None) -> int | None:
        """Wait for a change (up to ``wait_s``, default ``idle_s``, and never past a round
        that is due), then run the round if it is due: how many homes it published (None:
        no round)."""
        most_s = self._idle_s if wait_s is None else wait_s
        timeout_s = self.debounce.wait_s(self._clock_s(), most_s=most_s)
        if await self._changes.wait(timeout_s=timeout_s):
            self.debounce.changed(self._clock_s())
        now_s = self._clock_s()
        if not self.debounce.ready(now_s):
            return None
        self.debounce.ran(now_s)
        try:
            return await self._publisher.refresh()
        except RateLimited as limited:
            log.info("slack: %s; the homes wait", limited)
            self.debounce.limited(self._clock_s(), limited.retry_after_s)
            return 0

    async def run(self, stop: asyncio.Event, *, health: Health | None = None) -> None:
        """Refresh until ``stop`` is set."""
        pause_s = 0.5
        while not stop.is_set():
            try:
                await self.step()
            except StoreUnavailable as exc:
                if health is not None:
                    health.recovering(f"redis unavailable ({exc})")
            except Exception:  # a home is not worth a dead worker: the next change retries
                log.exception("slack: refreshing the App Homes failed")
            else:
                pause_s = 0.5
                if health is not None:
                    health.recovered()
                continue
            await _pause(stop, pause_s)
            pause_s = min(pause_s * 2, 30.0)
        await self._publisher.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
