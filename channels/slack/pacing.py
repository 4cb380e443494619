"""Slack's pace: about one message per second per channel (short bursts allowed).

``ChannelPacer`` gives each Slack channel a token bucket (``burst`` writes at once, then one
per ``interval_s``); every write to a channel waits for its turn, in order. Edits that only
show progress coalesce: while one waits, a newer edit of the same message replaces it, so a
burst of progress updates sends the newest text once its turn comes, not every step.
A 429 is retried by slack_sdk after the ``Retry-After`` Slack sends (see ``client``).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

__all__ = ["ChannelPacer"]

log = logging.getLogger("deploybot.slack")

Job = Callable[[], Awaitable[object]]


class _Bucket:
    def __init__(self, burst: int, now_s: float) -> None:
        self.tokens = float(burst)
        self.at_s = now_s
        self.lock = asyncio.Lock()


class ChannelPacer:
    def __init__(
        self,
        *,
        interval_s: float = 1.0,
        burst: int = 3,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._burst = burst
        self._clock_s = clock_s
        self._buckets: dict[str, _Bucket] = {}
        self._latest: dict[tuple[str, str], Job] = {}  # (channel, ts) -> the newest edit
        self._flushing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def turn(self, channel: str) -> AsyncIterator[None]:
        """Hold ``channel``'s turn for one write (waits until the bucket has a token)."""
        bucket = self._buckets.setdefault(channel, _Bucket(self._burst, self._clock_s()))
        async with bucket.lock:
            if self._interval_s > 0:
                now_s = self._clock_s()
                rate = 1 / self._interval_s
                bucket.tokens = min(self._burst, bucket.tokens + (now_s - bucket.at_s) * rate)
                bucket.at_s = now_s
                if bucket.tokens < 1:
                    await asyncio.sleep((1 - bucket.tokens) * self._interval_s)
                    bucket.tokens, bucket.at_s = 1.0, self._clock_s()
                bucket.tokens -= 1
            yield

    def forget(self, channel: str, ts: str) -> None:
        """A final edit of this message is coming: drop a progress edit still waiting."""
        self._latest.pop((channel, ts), None)

    async def coalesce(self, channel: str, ts: str, job: Job) -> None:
        """Run ``job`` (an edit of message ``ts``) at ``channel``'s next turn, unless a newer
        edit of the same message arrives first. Returns at once; a failure is logged.
        Without pacing (``interval_s`` 0), runs it now."""
        key = (channel, ts)
        if self._interval_s <= 0:
            self._latest[key] = job
            await self._flush(key)
            return
        waiting = key in self._latest
        self._latest[key] = job
        if not waiting:
            task = asyncio.create_task(self._flush(key))
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _flush(self, key: tuple[str, str]) -> None:
        async with self.turn(key[0]):
            job = self._latest.pop(key, None)
            if job is None:
                return  # replaced by a final edit meanwhile
            try:
                await job()
            except Exception as exc:  # progress is transient: the next one or the result
                log.warning("slack: a progress edit in %s failed: %s", key[0], exc)

    async def drain(self) -> None:
        """Wait for the coalesced edits still pending (tests, shutdown)."""
        while self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
