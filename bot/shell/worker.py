"""The worker: read the inbound stream, advance threads, save, hand replies to the outbox.

Many threads run at once (bounded); one worker advances a given thread at a time (a renewed
lease); the stream entry is acknowledged only after the thread is saved. A worker that dies
leaves its entries pending, and another takes them over (XAUTOCLAIM) once they have been idle
longer than a lease lives.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from redis.exceptions import ResponseError

from bot.core.errors import ThreadConflict
from bot.core.events import MessageSent, PlanProposed
from bot.core.thread import Thread
from bot.shell.inbound import Delivery, InboundQueue
from bot.shell.logs import current_thread
from bot.shell.metrics import Metrics
from bot.shell.outbox import PULL_CHANNELS, LogSender, Outbox
from bot.shell.pending import PendingApprovals
from bot.shell.redis_faults import TRANSIENT, Backoff, pause, stream_gone
from bot.shell.store import ThreadStore
from bot.shell.tasks import TaskHandle, TaskRegistry
from bot.shell.timers import Timers
from bot.shell.turn import Runner

__all__ = ["Worker"]

log = logging.getLogger("deploybot.worker")


class Worker:
    def __init__(
        self,
        *,
        queue: InboundQueue,
        store: ThreadStore,
        runner: Runner,
        outbox: Outbox,
        consumer: str,
        clock: Callable[[], datetime],
        new_id: Callable[[], str],
        concurrency: int = 32,
        lease_ttl_ms: int = 15_000,
        max_deliveries: int = 5,
        timers: Timers | None = None,
        pending: PendingApprovals,
        metrics: Metrics | None = None,
    ) -> None:
        self._queue = queue
        self._store = store
        self._runner = runner
        self._outbox = outbox
        self.consumer = consumer
        self._clock = clock
        self._new_id = new_id
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._lease_ttl_ms = lease_ttl_ms
        self._max_deliveries = max_deliveries
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers = timers
        self._pending = pending
        self._metrics = metrics

    # -- driving -------------------------------------------------------------------------

    async def run(
        self,
        *,
        stop: asyncio.Event | None = None,
        tasks: TaskRegistry | None = None,
        health: TaskHandle | None = None,
    ) -> None:
        """Work until ``stop`` is set (forever by default).

        The timers pump and the pull channels' outbox pumps run as tasks of ``tasks`` (a
        private registry when None). Redis going away is ridden out with backoff; Redis
        losing its data (the group is gone) is said, counted, and repaired; anything else
        raises, for the registry to record."""
        stop = stop or asyncio.Event()
        registry = tasks or TaskRegistry()
        health = health or TaskHandle("worker")
        background: list[asyncio.Task[None]] = []
        if self._timers is not None:  # every worker pumps: expiry must not need a clock
            timers = self._timers
            background.append(
                registry.spawn(
                    "timers", lambda h: timers.run(clock=self._clock, stop=stop, health=h)
                )
            )
        for channel in PULL_CHANNELS:  # their outboxes would otherwise only grow
            background.append(registry.spawn(f"outbox:{channel}", self._pull_pump(channel, stop)))
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
        reclaim_every = 0
        while not stop.is_set():
            try:
                if need_group:
                    await self._queue.ensure_group()
                    need_group = False
                if reclaim_every <= 0:
                    self._spawn(
                        await self._queue.reclaim(
                            consumer=self.consumer, min_idle_ms=self._lease_ttl_ms, count=50
                        )
                    )
                    reclaim_every = 10
                reclaim_every -= 1
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
            "locks and timers may be gone too. Turn on AOF persistence (see the README).",
            "recreated it" if created else "another worker recreated it",
        )
        if created and self._metrics is not None:
            await self._metrics.count_data_loss()

    async def run_until_idle(self, *, reclaim: bool = True) -> int:
        """Process everything waiting now, including what it leads to; for the terminal
        channel and tests. Returns how many entries were handled."""
        await self._queue.ensure_group()
        if self._timers is not None:
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
                if self._timers is not None and await self._timers.fire_due(now=self._clock()):
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
                await self.handle(delivery)
            except Exception:
                # Left pending: reclaimed and retried later, dead-lettered if it keeps failing.
                log.exception("entry %s failed; it will be retried", delivery.entry_id)

    # -- one entry -----------------------------------------------------------------------

    async def handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        if envelope is None:
            await self._queue.dead_letter(delivery, reason="not a valid inbound envelope")
            return
        if delivery.deliveries > self._max_deliveries:
            await self._give_up(delivery, reason=f"failed {delivery.deliveries - 1} times")
            return
        token = f"{self.consumer}:{self._new_id()}"
        thread_id = envelope.thread_id
        current_thread.set(thread_id)
        wait_s = 0.05
        while True:
            got, thread = await self._store.lease_and_load(
                thread_id, token=token, ttl_ms=self._lease_ttl_ms
            )
            if got:
                break
            # Another worker is advancing this thread (maybe a long deploy): wait our turn,
            # keeping the entry ours so nobody reclaims it meanwhile.
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, self._lease_ttl_ms / 4000)
            await self._queue.touch(consumer=self.consumer, entry_ids=[delivery.entry_id])
        released = False
        try:
            async with self._slots:
                released = await self._advance(delivery, thread, token=token)
        finally:
            if not released:
                await self._store.release_lease(thread_id, token=token)

    async def _advance(self, delivery: Delivery, thread: Thread | None, *, token: str) -> bool:
        """Advance the thread, save it, hand its new messages to the outbox, acknowledge.

        Returns True when the lease was released with the acknowledgement.
        """
        envelope = delivery.envelope
        assert envelope is not None
        if thread is None:
            if envelope.origin is None:
                await self._queue.dead_letter(delivery, reason=f"no thread {envelope.thread_id}")
                return False
            thread = Thread(
                id=envelope.thread_id,
                origin=envelope.origin,
                agent=envelope.agent,
                created_at=self._clock(),
            )
        redelivered = thread.has_event(envelope.event.id) or delivery.deliveries > 1
        loaded = len(thread.events)
        if not thread.has_event(envelope.event.id):
            thread.events.append(envelope.event)

        heartbeat = _Heartbeat(
            store=self._store,
            queue=self._queue,
            consumer=self.consumer,
            thread_id=thread.id,
            token=token,
            entry_id=delivery.entry_id,
            lease_ttl_ms=self._lease_ttl_ms,
        )
        try:
            async with heartbeat:
                published = await self._runner.advance(thread, hold=heartbeat)
            if len(thread.events) != loaded or thread.version == 0:
                await self._store.save(thread)
        except ThreadConflict:
            log.info("thread %s changed under us; entry %s retried", thread.id, delivery.entry_id)
            raise
        new = [
            e
            for e in thread.events[loaded:]
            if isinstance(e, MessageSent) and e.id not in published
        ]
        if redelivered:
            new = await self._outbox.undelivered(thread)
        # Saved above: now outbox, acknowledgement and lease release in one round trip.
        pipe = self._store.pipeline()
        self._outbox.enqueue_in(pipe, thread, new)
        proposed = {e.plan.plan_hash: e.plan for e in thread.events if isinstance(e, PlanProposed)}
        self._pending.add_in(
            pipe, thread_id=thread.id, events=thread.events[loaded:], plans=proposed
        )
        if self._timers is not None:
            self._timers.schedule_for_in(
                pipe,
                thread_id=thread.id,
                events=thread.events[loaded:],
                config=self._runner.config,
                plans=proposed,
                now=self._clock(),
            )
        if self._metrics is not None:
            self._metrics.add_in(pipe, thread.events[loaded:])
        self._queue.ack_in(pipe, [delivery.entry_id])
        self._store.release_lease_in(pipe, thread.id, token=token)
        await pipe.execute()
        return True

    async def _give_up(self, delivery: Delivery, *, reason: str) -> None:
        """Dead-letter an entry and tell the people in its thread, if there is one."""
        await self._queue.dead_letter(delivery, reason=reason)
        envelope = delivery.envelope
        if envelope is None:
            return
        with contextlib.suppress(Exception):
            thread = await self._store.load(envelope.thread_id)
            if thread is None:
                return
            note = MessageSent(
                id=self._new_id(),
                at=self._clock(),
                purpose="error",
                text=f"I could not process a message in this thread ({reason}); it was set "
                "aside for an operator. Nothing was deployed because of it.",
            )
            thread.events.append(note)
            await self._store.save(thread)
            await self._outbox.enqueue(thread, [note])
        log.error("entry %s dead-lettered: %s", delivery.entry_id, reason)


class _Heartbeat:
    """Keeps this worker's hold on a thread while it advances it: renews the thread lease and
    resets the stream entry's idle time, every third of the lease, until the turn ends."""

    def __init__(
        self,
        *,
        store: ThreadStore,
        queue: InboundQueue,
        consumer: str,
        thread_id: str,
        token: str,
        entry_id: str,
        lease_ttl_ms: int,
    ) -> None:
        self._store = store
        self._queue = queue
        self._consumer = consumer
        self._thread_id = thread_id
        self._token = token
        self._entry_id = entry_id
        self._lease_ttl_ms = lease_ttl_ms
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.lost = False

    async def __aenter__(self) -> "_Heartbeat":
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        # A flag as well as cancel(): on Python 3.11 asyncio.wait_for (used by redis-py)
        # can swallow a cancellation that arrives as its call completes, and a beat that
        # survived would keep the lease for ever (seen as a hung CI run).
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(self._task), timeout=self._lease_ttl_ms / 1000
                )

    async def _beat(self) -> None:
        while not self._stopped:
            await asyncio.sleep(self._lease_ttl_ms / 3000)
            if self._stopped:
                return
            try:
                held = await self._store.renew_lease(
                    self._thread_id, token=self._token, ttl_ms=self._lease_ttl_ms
                )
                await self._queue.touch(consumer=self._consumer, entry_ids=[self._entry_id])
            except Exception as exc:  # Redis away: we can no longer vouch for the lease
                log.warning("heartbeat for thread %s failed: %s", self._thread_id, exc)
                held = False
            if not held:
                self.lost = True
