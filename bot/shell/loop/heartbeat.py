"""A worker's hold on the thread it is advancing: the thread's lease and the stream entry's
idle time, renewed every third of the lease until the turn ends. A renewal that fails
(Redis away, or another worker took the lease) is logged; the turn's writes are guarded by
compare-and-set whatever happens here.
"""

import asyncio
import contextlib
import logging

from bot.shell.world.context import Context

__all__ = ["Heartbeat"]

log = logging.getLogger("deploybot.worker")


class Heartbeat:
    """Keeps this worker's hold on a thread while it advances it: renews the thread lease and
    resets the stream entry's idle time, every third of the lease, until the turn ends."""

    def __init__(
        self, *, context: Context, consumer: str, thread_id: str, token: str, entry_id: str
    ) -> None:
        self._store = context.store
        self._queue = context.queue
        self._lease_ttl_ms = context.limits.lease_ttl_ms
        self._consumer = consumer
        self._thread_id = thread_id
        self._token = token
        self._entry_id = entry_id
        self._task: asyncio.Task[None] | None = None
        self._due: asyncio.TimerHandle | None = None
        self._stopped = False

    async def __aenter__(self) -> "Heartbeat":
        # No task until the first renewal is due (a third of the lease): most turns end long
        # before, and a task made and cancelled per turn cost about 20 us of worker CPU.
        loop = asyncio.get_running_loop()
        self._due = loop.call_later(self._lease_ttl_ms / 3000, self._start)
        return self

    def _start(self) -> None:
        if not self._stopped:
            self._task = asyncio.create_task(self._beat())

    async def __aexit__(self, *_exc: object) -> None:
        # A flag as well as cancel(): on Python 3.11 asyncio.wait_for (used by redis-py)
        # can swallow a cancellation that arrives as its call completes, and a beat that
        # survived would keep the lease for ever (seen as a hung CI run).
        self._stopped = True
        if self._due is not None:
            self._due.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(self._task), timeout=self._lease_ttl_ms / 1000
                )

    async def _beat(self) -> None:
        """Renew now (the first renewal is due), then every third of the lease."""
        while not self._stopped:
            try:
                held = await self._store.renew_lease(
                    self._thread_id, token=self._token, ttl_ms=self._lease_ttl_ms
                )
                await self._queue.touch(consumer=self._consumer, entry_ids=[self._entry_id])
            except Exception as exc:  # Redis away: we can no longer vouch for the lease
                log.warning("heartbeat for thread %s failed: %s", self._thread_id, exc)
            else:
                if not held:
                    log.warning("thread %s: another worker holds its lease now", self._thread_id)
            await asyncio.sleep(self._lease_ttl_ms / 3000)
