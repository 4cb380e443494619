"""The outbox: messages recorded in a thread, delivered by a retrying deliverer.

One stream per channel (``deploybot:outbox:slack``, ``...:terminal:<session>``). A message
is added to the delivered set after it is sent, and a message already in the set is skipped,
so a retry after a crash does not send it twice (within what the channel allows: a crash
between sending and recording can still repeat one message). The set is one sorted set for
all threads (cheaper than a key per thread), forgetting deliveries older than a week.

A failed delivery is retried (an SMTP or Slack outage loses nothing), except one the channel
refused for good (``Undeliverable``): it goes to ``deploybot:outbox:dead`` with the reason.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from bot.core.errors import Undeliverable
from bot.core.ports.outbound import OutboundMessage, Sender
from bot.core.thread.events import MessageSent
from bot.core.thread.origin import outbox_channel
from bot.core.thread.text.actor import RECORDED
from bot.core.thread.thread import Thread
from bot.core.wording.cards import topic_of
from bot.shell.runtime.tasks import TaskHandle
from bot.shell.store.keys import Keys, stream_entries
from bot.shell.store.redis_faults import TRANSIENT, Backoff, pause, stream_gone

__all__ = ["Outbox"]

log = logging.getLogger("deploybot.outbox")

_REMEMBER_DELIVERED_S = 7 * 86400


def _member(thread_id: str, message_id: str) -> str:
    return f"{thread_id}:{message_id}"


class Outbox:
    group = "deliverers"

    def __init__(self, *, redis: "Redis", keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        #: Per channel: why the last batch's deliveries all failed (None: they did not).
        self.failing: dict[str, str | None] = {}

    async def enqueue(self, thread: Thread, messages: list[MessageSent]) -> None:
        if messages:
            pipe = self._redis.pipeline(transaction=False)
            self.enqueue_in(pipe, thread, messages)
            await pipe.execute()

    def enqueue_in(self, pipe: "Pipeline", thread: Thread, messages: list[MessageSent]) -> None:
        """Queue the messages on a pipeline the caller executes."""
        topic = topic_of(thread)
        for message in messages:
            channel = outbox_channel(thread.origin, message.route)
            stream = self._keys.outbox(channel)
            out = OutboundMessage(
                thread_id=thread.id,
                message_id=message.id,
                origin=thread.origin,
                text=message.text,
                purpose=message.purpose,
                to=message.to,
                replaces=message.replaces,
                route=message.route,
                topic=topic,
                card=message.card,  # recorded by the core, never rebuilt here
            )
            pipe.xadd(stream, {"m": out.model_dump_json()}, maxlen=100_000, approximate=True)
            if channel.startswith("terminal:"):  # only its session reads it: tell the home
                told = json.dumps({"thread_id": thread.id, "purpose": message.purpose})
                pipe.xadd(self._keys.board_changes(), {"m": told}, maxlen=1000, approximate=True)

    async def send_transient(self, message: OutboundMessage) -> None:
        """Queue a message that is not recorded in its thread (deploy progress): losing or
        repeating one is harmless, since the next one or the result replaces it."""
        stream = self._keys.outbox(outbox_channel(message.origin, message.route))
        await self._redis.xadd(
            stream, {"m": message.model_dump_json()}, maxlen=100_000, approximate=True
        )

    async def undelivered(self, thread: Thread) -> list[MessageSent]:
        messages = [e for e in thread.events if isinstance(e, MessageSent)]
        if not messages:
            return []
        scores = await self._redis.zmscore(
            self._keys.delivered(), [_member(thread.id, m.id) for m in messages]
        )
        return [m for m, score in zip(messages, scores, strict=True) if score is None]

    async def ensure_group(self, channel: str) -> None:
        try:
            await self._redis.xgroup_create(
                self._keys.outbox(channel), self.group, id="0", mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def deliver_some(
        self,
        *,
        channel: str,
        sender: Sender,
        consumer: str,
        block_ms: int | None,
        retry_idle_ms: int = 5_000,
        count: int = 50,
        batches: int = 8,
    ) -> int:
        """Deliver what is waiting (and retry what failed earlier); returns how many sent.

        The failed ones (idle ``retry_idle_ms``) and the new ones are read in one round trip;
        only when there are none does a second read wait up to ``block_ms`` for new ones.
        While batches keep coming (at most ``batches``, while every send works) a batch's
        acknowledgements share a round trip with the next read: two round trips a batch
        (what was delivered before; acknowledgements and the next read), not three. A read
        that fails raises the server's own reply, as a lone read would (redis-py would put its
        pipeline annotation in front: ``stream_gone`` and the task's death read the reply)."""
        stream = self._keys.outbox(channel)
        read = self._redis.pipeline(transaction=False)
        self._read_in(read, stream, consumer, retry_idle_ms=retry_idle_ms, count=count)
        entries = _read_entries(await read.execute(raise_on_error=False))
        if not entries and block_ms is not None:
            fresh = await self._redis.xreadgroup(
                self.group, consumer, {stream: ">"}, count=count, block=block_ms
            )
            entries = stream_entries(fresh)
        sent = 0
        for n in range(batches):
            if not entries:
                break
            batch, done = await self._deliver(channel, stream, sender, entries)
            self.failing[channel] = batch.failure if batch.failure and not batch.sent else None
            sent += batch.sent
            ours = len(done)  # the batch's own writes; the next read, if any, follows them
            more = n + 1 < batches and batch.failure is None
            if more:
                self._read_in(done, stream, consumer, retry_idle_ms=retry_idle_ms, count=count)
            replies = _raised(await done.execute(raise_on_error=False))
            entries = _read_entries(replies[ours:]) if more else []
        return sent

    def _read_in(
        self, pipe: "Pipeline", stream: str, consumer: str, *, retry_idle_ms: int, count: int
    ) -> None:
        """Queue a read of the failed entries (idle ``retry_idle_ms``) and the new ones."""
        pipe.xautoclaim(stream, self.group, consumer, retry_idle_ms, "0-0", count=count)
        pipe.xreadgroup(self.group, consumer, {stream: ">"}, count=count)

    async def _deliver(
        self,
        channel: str,
        stream: str,
        sender: Sender,
        entries: list[tuple[str, dict[bytes, bytes]]],
    ) -> "tuple[_Batch, Pipeline]":
        """Send the entries not delivered before; returns the batch and its acknowledgements,
        queued on a pipeline the caller executes."""
        done = self._redis.pipeline(transaction=False)
        parsed: list[tuple[str, OutboundMessage]] = []
        for entry_id, fields in entries:
            try:
                parsed.append(
                    (entry_id, OutboundMessage.model_validate_json(fields[b"m"], context=RECORDED))
                )
            except (KeyError, ValueError):  # never deliverable: set aside, do not stop the pump
                log.error("outbox %s entry %s is not a valid message, set aside", channel, entry_id)
                self._set_aside_in(done, fields.get(b"m", b""), channel, "invalid message")
                self._ack_in(done, stream, entry_id)
        delivered = self._keys.delivered()
        already = (
            await self._redis.zmscore(
                delivered, [_member(m.thread_id, m.message_id) for _eid, m in parsed]
            )
            if parsed
            else []
        )
        now_s = time.time()
        batch = _Batch()
        this_batch: set[str] = set()  # the same message enqueued twice, read in one batch
        for (entry_id, message), was_sent in zip(parsed, already, strict=True):
            member = _member(message.thread_id, message.message_id)
            if was_sent is None and member not in this_batch:
                try:
                    await sender.send(message)
                except Undeliverable as exc:  # refused for good: set aside, never retried
                    log.error(
                        "delivery to %s refused for good, set aside: %s",
                        channel,
                        exc,
                        extra={"thread_id": message.thread_id},
                    )
                    self._set_aside_in(done, message.model_dump_json(), channel, str(exc))
                except Exception as exc:  # the channel failed: leave it pending, retry later
                    log.warning("delivery to %s failed, will retry: %s", channel, exc)
                    batch.failure = f"{type(exc).__name__}: {exc}"
                    continue
                else:
                    batch.sent += 1
            this_batch.add(member)
            done.zadd(delivered, {member: now_s})
            self._ack_in(done, stream, entry_id)
        done.zremrangebyscore(delivered, "-inf", now_s - _REMEMBER_DELIVERED_S)
        return batch, done

    def _ack_in(self, pipe: "Pipeline", stream: str, entry_id: str) -> None:
        pipe.xack(stream, self.group, entry_id)
        pipe.xdel(stream, entry_id)

    def _set_aside_in(self, pipe: "Pipeline", m: bytes | str, channel: str, reason: str) -> None:
        entry: dict[Any, Any] = {"m": m, "channel": channel, "reason": reason}
        pipe.xadd(self._keys.outbox_dead(), entry, maxlen=10_000, approximate=True)

    async def set_aside(self) -> int:
        """Messages a channel refused for good (see ``Undeliverable``)."""
        return int(await self._redis.xlen(self._keys.outbox_dead()))

    async def pending(self, channel: str) -> int:
        """Messages enqueued and not yet delivered."""
        return int(await self._redis.xlen(self._keys.outbox(channel)))

    async def run(
        self,
        *,
        channel: str,
        sender: Sender,
        consumer: str,
        stop: asyncio.Event | None = None,
        health: TaskHandle | None = None,
    ) -> None:
        """Deliver until ``stop`` is set (forever by default), retrying what fails.

        Redis away: retried with backoff. The group gone (Redis lost its data): recreated.
        Every delivery failing (the channel is down): ``recovering`` until one succeeds.
        Anything else raises, for the task registry to record."""
        health = health or TaskHandle(f"outbox:{channel}")
        backoff = Backoff()
        need_group = True
        while stop is None or not stop.is_set():
            try:
                if need_group:
                    await self.ensure_group(channel)
                    need_group = False
                sent = await self.deliver_some(
                    channel=channel, sender=sender, consumer=consumer, block_ms=1000
                )
            except ResponseError as exc:
                if not stream_gone(exc):
                    raise
                log.warning(
                    "outbox %s: its stream's group was gone (Redis lost its data; messages "
                    "queued before are gone); recreated it",
                    channel,
                )
                need_group = True
                continue
            except TRANSIENT as exc:
                health.recovering(f"redis unavailable ({type(exc).__name__}: {exc})")
                await pause(stop, backoff.take())
                continue
            backoff.reset()
            failure = self.failing.get(channel)
            if failure is not None:
                health.recovering(f"deliveries to {channel} failing ({failure})")
            elif sent or health.recovering_since_s is not None:
                health.recovered()
            if not sent:
                await pause(stop, 0.05)


def _raised(replies: list[object]) -> list[object]:
    """A pipeline's replies; the first that is an error is raised, as the server wrote it."""
    if (failed := next((r for r in replies if isinstance(r, Exception)), None)) is not None:
        raise failed
    return replies


def _read_entries(replies: list[object]) -> list[tuple[str, dict[bytes, bytes]]]:
    """The entries of ``_read_in``'s two replies."""
    claimed, fresh = _raised(replies)
    return stream_entries(claimed[1]) + stream_entries(fresh)  # type: ignore[index]


@dataclass
class _Batch:
    sent: int = 0
    failure: str | None = None
