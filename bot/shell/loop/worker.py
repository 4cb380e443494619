"""The worker: read the inbound stream, advance threads, save, hand replies to the outbox.

Many threads run at once (bounded); one worker advances a given thread at a time (a renewed
lease); the stream entry is acknowledged only after the thread is saved. A worker that dies
leaves its entries pending, and another takes them over (XAUTOCLAIM) once they have been idle
longer than a lease lives.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import ResponseError

from bot.shell.lock.dataloss import DataLossGuard
from bot.shell.loop.entry import EntryHandler
from bot.shell.loop.timers import Timers
from bot.shell.loop.turn import Runner
from bot.shell.runtime.tasks import TaskHandle, TaskRegistry
from bot.shell.store.redis_faults import TRANSIENT, Backoff, pause, stream_gone
from bot.shell.streams.inbound import Delivery
from bot.shell.streams.pull import PULL_CHANNELS, LogSender
from bot.shell.world.context import Context

__all__ = ["Worker"]

log = logging.getLogger("deploybot.worker")


class Worker:
    def __init__(
        self,
        *,
        context: Context,
        runner: Runner,
        timers: Timers,
        consumer: str,
        concurrency: int = 32,
        guard: DataLossGuard | None = None,
    ) -> None:
        """``consumer``: this worker's name in the stream's group; ``guard``: the watch on
        Redis's intact mark (None for the embedded store, which cannot lose data alone)."""
        self._queue = context.queue
        self._outbox = context.outbox
        self._metrics = context.metrics
        self._clock = context.clock.now
        self._lease_ttl_ms = context.limits.lease_ttl_ms
        self._timers = timers
        self._guard = guard
        self.consumer = consumer
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._entries = EntryHandler(
            context=context, runner=runner, timers=timers, consumer=consumer, slots=self._slots
        )

    # -- driving -------------------------------------------------------------------------

    async def run(
        self,
        *,
        stop: asyncio.Event | None = None,
        tasks: TaskRegistry | None = None,
        health: TaskHandle | None = None,
    ) -> None:
        """Work until ``stop`` is set (forever by default).

        The timers pump, the pull channels' outbox pumps and the intact mark's watch
        (bot/shell/lock/dataloss.py) run as tasks of ``tasks`` (a private registry when None).
        Redis going away is ridden out with backoff; Redis losing its data (the group is
        gone) is said, counted, and repaired; anything else raises, for the registry to
        record."""
        stop = stop or asyncio.Event()
        registry = tasks or TaskRegistry()
        health = health or TaskHandle("worker")
        background: list[asyncio.Task[None]] = []
        registry.stops_with(stop)  # our pumps ending on ``stop`` are not deaths
        timers = self._timers
        background.append(
            registry.spawn("timers", lambda h: timers.run(clock=self._clock, stop=stop, health=h))
        )
        for channel in PULL_CHANNELS:  # their outboxes would otherwise only grow
            background.append(registry.spawn(f"outbox:{channel}", self._pull_pump(channel, stop)))
        if (guard := self._guard) is not None:  # a loss seen within a second, not at a deploy
            background.append(registry.spawn("intact-mark", lambda h: guard.watch(stop=stop)))
        try:
            await self._loop(stop, health)
        except BaseException:
            if tasks is None:  # nobody else watches our pumps: stop them with us
                await registry.stop(timeout_s=0)
            raise
        if self._tasks:
            await asyncio.wait(self._tasks)
        await asyncio.gather(*background, return_exceptions=True)

    def _pull_pump(
        self, channel: str, stop: asyncio.Event
    ) -> Callable[[TaskHandle], Awaitable[None]]:
        async def pump(handle: TaskHandle) -> None:
            sender = LogSender()
            await self._outbox.run(
                channel=channel, sender=sender, consumer=self.consumer, stop=stop, health=handle
            )

        return pump

    async def _loop(self, stop: asyncio.Event, health: TaskHandle) -> None:
        backoff = Backoff()
        need_group = True
        loop = asyncio.get_running_loop()
        next_reclaim = 0.0  # entries a dead worker held: looked for about once per lease
        while not stop.is_set():
            try:
                if need_group:
                    await self._queue.ensure_group()
                    need_group = False
                if loop.time() >= next_reclaim:
                    self._spawn(
                        await self._queue.reclaim(
                            consumer=self.consumer, min_idle_ms=self._lease_ttl_ms, count=50
                        )
                    )
                    next_reclaim = loop.time() + max(0.5, self._lease_ttl_ms / 1000)
                free = self._concurrency - len(self._tasks)
                if free <= 0:
                    await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                got = await self._queue.read(consumer=self.consumer, count=free, block_ms=500)
            except ResponseError as exc:
                if not stream_gone(exc):
                    raise
                await self._data_lost()
                continue
            except TRANSIENT as exc:
                health.recovering(f"redis unavailable ({type(exc).__name__}: {exc})")
                await pause(stop, backoff.take())
                continue
            health.recovered()
            backoff.reset()
            if got:
                self._spawn(got)
            else:
                await asyncio.sleep(0.01)  # fakeredis does not block on an empty stream

    async def _data_lost(self) -> None:
        """The inbound group is gone: Redis lost its data. Recreate it, say so, count it."""
        created = await self._queue.ensure_group()
        log.error(
            "Redis lost its data: the inbound stream's consumer group was gone (a restart "
            "without persistence, FLUSHALL, or a failover to an empty replica); %s. Requests "
            "accepted but not yet processed before the loss are gone; threads, approvals, "
            "locks and timers may be gone too. Turn on AOF persistence (docs/operations.md).",
            "recreated it" if created else "another worker recreated it",
        )
        if created:
            await self._metrics.count_data_loss()

    async def run_until_idle(self, *, reclaim: bool = True) -> int:
        """Process everything waiting now, including what it leads to; for the terminal
        channel and tests. Returns how many entries were handled."""
        await self._queue.ensure_group()
        await self._timers.fire_due(now=self._clock())
        handled = 0
        while True:
            batch: list[Delivery] = []
            if reclaim:
                batch += await self._queue.reclaim(
                    consumer=self.consumer, min_idle_ms=self._lease_ttl_ms, count=50
                )
            batch += await self._queue.read(consumer=self.consumer, count=50, block_ms=None)
            if not batch and not self._tasks:
                # What the work just done made due (a verification after a deploy) is part
                # of it too.
                if await self._timers.fire_due(now=self._clock()):
                    continue
                return handled
            handled += len(batch)
            self._spawn(batch)
            if self._tasks:
                await asyncio.wait(self._tasks)

    def _spawn(self, deliveries: list[Delivery]) -> None:
        """One task per thread, handling its entries in stream order."""
        by_thread: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            tid = delivery.envelope.thread_id if delivery.envelope else f"?{delivery.entry_id}"
            by_thread.setdefault(tid, []).append(delivery)
        for group in by_thread.values():
            task = asyncio.create_task(self._handle_all(group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle_all(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            try:
                await self._entries.handle(delivery)
            except Exception:
                # Left pending: reclaimed and retried later, dead-lettered if it keeps failing.
                log.exception("entry %s failed; it will be retried", delivery.entry_id)
