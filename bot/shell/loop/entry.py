"""One inbound entry, handled: take the thread's lease (waiting while another worker has
it), advance the thread (``bot.shell.loop.turn``), save it, then hand its new messages to the
outbox, queue its timers, count its metrics, acknowledge the entry and release the lease in
one round trip.

No entry stops the worker. One that cannot be decoded is set aside at once; one whose
handling raises (or kills the worker) stays pending, is taken over again after a lease, and
after ``max_deliveries`` deliveries is set aside: moved to the dead-letter stream with its
reason, counted in ``deploybot_inputs_set_aside_total{channel="worker"}``, kept for the
audit, and the people in its thread are told (or, when the thread itself cannot be loaded,
the place the entry came from). The worker goes on with the next entry meanwhile.
"""

import asyncio
import contextlib
import logging

from bot.core.errors import ThreadConflict
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.events import MessageSent, PlanProposed
from bot.core.thread.set_aside import SetAsideReason
from bot.core.thread.thread import Thread
from bot.core.wording.set_aside import (
    keeps_failing_reason,
    no_thread_reason,
    set_aside_text,
    undecodable_reason,
)
from bot.shell.loop.heartbeat import Heartbeat
from bot.shell.loop.timers import Timers
from bot.shell.loop.turn import Runner
from bot.shell.runtime.logs import current_thread
from bot.shell.streams.inbound import Delivery
from bot.shell.world.context import Context

__all__ = ["EntryHandler"]

log = logging.getLogger("deploybot.worker")


class EntryHandler:
    def __init__(
        self,
        *,
        context: Context,
        runner: Runner,
        timers: Timers,
        consumer: str,
        slots: asyncio.Semaphore,
    ) -> None:
        """``slots``: the worker's bound on threads advanced at once, shared by its entries."""
        self._context = context  # handed on to each entry's heartbeat
        self._config = context.config
        self._queue = context.queue
        self._store = context.store
        self._outbox = context.outbox
        self._pending = context.pending
        self._metrics = context.metrics
        self._clock = context.clock.now
        self._new_id = context.clock.new_id
        self._lease_ttl_ms = context.limits.lease_ttl_ms
        self._max_deliveries = context.limits.max_deliveries
        self._runner = runner
        self._timers = timers
        self.consumer = consumer
        self._slots = slots

    async def handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        if envelope is None:
            await self._give_up(delivery, reason=undecodable_reason(), kind="undecodable")
            return
        if delivery.deliveries > self._max_deliveries:
            reason = keeps_failing_reason(failures=delivery.deliveries - 1)
            await self._give_up(delivery, reason=reason, kind="keeps_failing")
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
                reason = no_thread_reason(thread_id=envelope.thread_id)
                await self._queue.dead_letter(
                    delivery, reason=reason, kind="no_thread", at=self._clock()
                )
                log.error("entry %s dead-lettered: %s", delivery.entry_id, reason)
                return False
            thread = Thread(
                id=envelope.thread_id,
                origin=envelope.origin,
                agent=envelope.agent,
                created_at=self._clock(),
            )
        already_in = thread.has_event(envelope.event.id)  # a scan of the events: once
        redelivered = already_in or delivery.deliveries > 1
        loaded = len(thread.events)
        if not already_in:
            thread.events.append(envelope.event)

        heartbeat = Heartbeat(
            context=self._context,
            consumer=self.consumer,
            thread_id=thread.id,
            token=token,
            entry_id=delivery.entry_id,
        )
        try:
            async with heartbeat:
                published = await self._runner.advance(thread)
            if len(thread.events) != loaded or thread.version == 0:
                await self._store.save(thread)
        except ThreadConflict:
            log.info("thread %s changed under us; entry %s retried", thread.id, delivery.entry_id)
            raise
        if redelivered:
            new = await self._outbox.undelivered(thread)
        else:
            new = [
                e
                for e in thread.events[loaded:]
                if isinstance(e, MessageSent) and e.id not in published
            ]
        # Saved above: now outbox, acknowledgement and lease release in one round trip.
        pipe = self._store.pipeline()
        self._outbox.enqueue_in(pipe, thread, new)
        proposed = {e.plan.plan_hash: e.plan for e in thread.events if isinstance(e, PlanProposed)}
        self._pending.add_in(
            pipe, thread_id=thread.id, events=thread.events[loaded:], plans=proposed
        )
        self._timers.schedule_for_in(
            pipe,
            thread_id=thread.id,
            events=thread.events[loaded:],
            config=self._config,
            plans=proposed,
            now=self._clock(),
        )
        self._metrics.add_in(pipe, thread.events[loaded:])
        self._queue.ack_in(pipe, [delivery.entry_id])
        self._store.release_lease_in(pipe, thread.id, token=token)
        await pipe.execute()
        return True

    async def _give_up(self, delivery: Delivery, *, reason: str, kind: SetAsideReason) -> None:
        """Dead-letter an entry and tell the people in its thread, if there is one."""
        await self._queue.dead_letter(delivery, reason=reason, kind=kind, at=self._clock())
        log.error("entry %s dead-lettered: %s", delivery.entry_id, reason)
        text = set_aside_text(reason)
        thread_id = delivery.thread_id
        told = False
        if thread_id is not None:
            try:
                told = await self._tell_thread(thread_id, text)
            except Exception:  # the thread itself cannot be loaded or saved
                log.exception("entry %s: thread %s cannot be told", delivery.entry_id, thread_id)
        origin = delivery.envelope.origin if delivery.envelope is not None else None
        if not told and origin is not None and thread_id is not None:
            with contextlib.suppress(Exception):  # best effort: the log line above stays
                note = OutboundMessage(
                    thread_id=thread_id,
                    message_id=f"set-aside-{delivery.entry_id}",
                    origin=origin,
                    text=text,
                    purpose="error",
                )
                await self._outbox.send_transient(note)

    async def _tell_thread(self, thread_id: str, text: str) -> bool:
        """Say ``text`` in the thread, under its lease like any turn (waiting a few leases
        for it); False when there is no such thread or it stayed busy."""
        token = f"{self.consumer}:{self._new_id()}"
        deadline = asyncio.get_running_loop().time() + 4 * self._lease_ttl_ms / 1000
        wait_s = 0.05
        while True:
            got, thread = await self._store.lease_and_load(
                thread_id, token=token, ttl_ms=self._lease_ttl_ms
            )
            if got:
                break
            if asyncio.get_running_loop().time() > deadline:
                return False  # busy (a long deploy): the place it came from is told instead
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, self._lease_ttl_ms / 4000)
        try:
            if thread is None:
                return False
            note = MessageSent(id=self._new_id(), at=self._clock(), purpose="error", text=text)
            thread.events.append(note)
            await self._store.save(thread)
            await self._outbox.enqueue(thread, [note])
            return True
        finally:
            await self._store.release_lease(thread_id, token=token)
