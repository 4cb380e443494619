"""The inbound stream: every event from every channel, durable before anyone is told "ok".

A Redis Stream read through one consumer group. An entry is acknowledged only after the
thread it changed is saved; entries left by a dead worker are taken over with XAUTOCLAIM;
entries that cannot be decoded, or fail too often, go to a dead-letter stream with the
reason, set aside (``bot.shell.streams.set_aside``) in the same transaction.
"""

import json
import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from bot.core.ports.inbound import Envelope, agent_for
from bot.core.reading.json_shape import check_json_depth
from bot.core.thread.set_aside import SetAside, SetAsideReason
from bot.core.thread.text.actor import RECORDED
from bot.shell.store.keys import Keys, stream_entries, text
from bot.shell.streams.set_aside import MAX_KEPT, set_aside_field

_THREAD_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

# ``Envelope`` and ``agent_for`` live with the port (``bot.core.ports.inbound``); named here
# too for the shell modules that read the stream.
__all__ = ["Delivery", "Envelope", "InboundQueue", "agent_for", "thread_hint"]


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    entry_id: str
    envelope: Envelope | None  # None: the entry could not be parsed
    raw: bytes
    deliveries: int = 1
    thread_hint: str | None = None  # an undecodable entry's thread id, if one can be read

    @property
    def thread_id(self) -> str | None:
        return self.envelope.thread_id if self.envelope is not None else self.thread_hint


def thread_hint(raw: bytes) -> str | None:
    """The ``thread_id`` of an entry that is not a valid envelope, if it names one plainly
    (so the people in that thread can be told it was set aside)."""
    if check_json_depth(raw) is not None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    found = value.get("thread_id") if isinstance(value, dict) else None
    return found if isinstance(found, str) and _THREAD_ID.fullmatch(found) else None


class InboundQueue:
    group = "workers"

    def __init__(self, *, redis: "Redis", keys: Keys, max_len: int = 100_000) -> None:
        self._redis = redis
        self._keys = keys
        self._max_len = max_len

    async def ensure_group(self) -> bool:
        """Create the stream and its consumer group unless they exist; True if created now.

        From id 0: entries appended while the group was missing (after Redis lost its data,
        before a worker noticed) are read too."""
        try:
            await self._redis.xgroup_create(self._keys.inbound(), self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            return False
        return True

    async def publish(self, envelope: Envelope) -> str:
        """Append durably; returns the stream entry id. Call before acknowledging a sender."""
        entry_id = await self._redis.xadd(
            self._keys.inbound(),
            {"e": envelope.model_dump_json()},
            maxlen=self._max_len,
            approximate=True,
        )
        return text(entry_id)

    def publish_in(self, pipe: "Pipeline", envelope: Envelope) -> None:
        """Queue the append on a pipeline the caller executes (with a thread's creation)."""
        pipe.xadd(
            self._keys.inbound(),
            {"e": envelope.model_dump_json()},
            maxlen=self._max_len,
            approximate=True,
        )

    async def read(self, *, consumer: str, count: int, block_ms: int | None) -> list[Delivery]:
        got = await self._redis.xreadgroup(
            self.group, consumer, {self._keys.inbound(): ">"}, count=count, block=block_ms
        )
        return [self._delivery(eid, fields) for eid, fields in stream_entries(got)]

    async def reclaim(self, *, consumer: str, min_idle_ms: int, count: int) -> list[Delivery]:
        """Take over entries another (dead) worker read but never acknowledged."""
        got = await self._redis.xautoclaim(
            self._keys.inbound(), self.group, consumer, min_idle_ms, "0-0", count=count
        )
        entries = stream_entries(got[1])
        if not entries:
            return []
        first, last = entries[0][0], entries[-1][0]
        pending = await self._redis.xpending_range(
            self._keys.inbound(), self.group, min=first, max=last, count=len(entries) + 10
        )
        counts = {text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        out = []
        for eid, fields in entries:
            delivery = self._delivery(eid, fields)
            out.append(delivery.model_copy(update={"deliveries": counts.get(eid, 1)}))
        return out

    async def touch(self, *, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of entries still being worked on (a long deploy), so no other
        worker reclaims them. JUSTID does not count as a delivery."""
        if entry_ids:
            ids: list[str | bytes | int | memoryview] = list(entry_ids)
            await self._redis.xclaim(
                self._keys.inbound(), self.group, consumer, 0, ids, justid=True
            )

    async def ack(self, entry_ids: list[str]) -> None:
        if entry_ids:
            pipe = self._redis.pipeline(transaction=False)
            self.ack_in(pipe, entry_ids)
            await pipe.execute()

    def ack_in(self, pipe: "Pipeline", entry_ids: list[str]) -> None:
        """Queue the acknowledgement on a pipeline the caller executes."""
        pipe.xack(self._keys.inbound(), self.group, *entry_ids)
        pipe.xdel(self._keys.inbound(), *entry_ids)

    async def dead_letter(
        self, delivery: Delivery, *, reason: str, kind: SetAsideReason, at: datetime
    ) -> None:
        """Move the entry to the dead-letter stream (``reason`` in words, ``kind`` of the
        closed set), counted and kept for the audit as set aside, in one transaction."""
        item = SetAside(
            at=at,
            channel="worker",
            reason=kind,
            ref=f"inbound entry {delivery.entry_id}",
            detail=reason,
            thread_id=delivery.thread_id,
        )
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(
            self._keys.dead_letter(),
            {"e": delivery.raw, "reason": reason, "kind": kind, "entry": delivery.entry_id},
            maxlen=10_000,
            approximate=True,
        )
        pipe.xadd(self._keys.set_aside(), {"s": item.model_dump_json()}, maxlen=MAX_KEPT)
        pipe.hincrby(self._keys.metrics(), set_aside_field("worker", kind), 1)
        pipe.xack(self._keys.inbound(), self.group, delivery.entry_id)
        pipe.xdel(self._keys.inbound(), delivery.entry_id)
        await pipe.execute()

    async def dead_letters(self, *, count: int = 100) -> list[tuple[str, str]]:
        got = await self._redis.xrange(self._keys.dead_letter(), count=count)
        return [(eid, text(f[b"reason"])) for eid, f in stream_entries(got)]

    async def lag(self) -> int:
        """Entries not yet acknowledged (pending + never read). Without the consumer group
        (Redis lost its data and no worker has recreated it yet) every entry is waiting."""
        try:
            groups = await self._redis.xinfo_groups(self._keys.inbound())
        except ResponseError:
            return 0  # no stream: nothing waiting
        for group in groups:
            if text(group["name"]) == self.group:
                pending = int(group["pending"])
                lag = group.get("lag")
                if lag is None:  # Redis cannot tell (entries deleted): count what is left
                    return int(await self._redis.xlen(self._keys.inbound()))
                return pending + int(lag)
        return int(await self._redis.xlen(self._keys.inbound()))

    @staticmethod
    def _delivery(eid: str, fields: dict[bytes, bytes]) -> Delivery:
        raw = fields.get(b"e", b"")
        try:
            envelope: Envelope | None = Envelope.model_validate_json(raw, context=RECORDED)
        except (ValueError, RecursionError):
            envelope = None
        if envelope is None:
            return Delivery(entry_id=eid, envelope=None, raw=raw, thread_hint=thread_hint(raw))
        return Delivery(entry_id=eid, envelope=envelope, raw=raw)
