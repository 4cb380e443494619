"""The per-pair queue (invariant 9): plans that found their pair held wait here, first in first
out, instead of holding a worker slot or failing.

Keys (one hash tag per pair, so the join script is one slot on a cluster): a sorted set of
thread ids scored by a per-pair counter (the order of joining), a hash of what each waits
with (``<thread>``: a ``QueuedPlan``; ``<thread>:told``: the position its thread was last
told; ``<thread>:woken``: the last time it was told its turn came), the counter, and one
global set naming the pairs that ever had a queue (what the pump looks at).

Protocol:

- Join (one script, ``_JOIN``): a thread already waiting keeps its place (its plan is
  updated: a newer plan of the same thread supersedes its older one in place); a plan of
  another thread for the same commit gives it its place and is returned, to be told it was
  superseded; a full queue (``queue_max`` waiting) refuses. Returns the position (1: next
  to run; the running deploy is not counted) and what is just ahead.
- A plan whose pair is free but whose queue has someone else first gives the lock back and
  joins: the head is read in the grant's own round trip (``head_in``), so fairness costs no
  round trip.
- Leave: when its deploy starts, when the re-check under the lock refuses it, on ``cancel``,
  and on a turn for a plan its thread no longer waits with.
- The pump (``pump``, in every worker with the timers, once a second): for each queue, tells
  every thread whose position changed (``queue_moved``), and tells the first its turn came
  (``queue_turn``) when the pair's lock is free, again after ``turn_again_s`` if it has not
  left by then (its worker died); a turn that found the pair taken again rejoins in its
  place and is woken by the next free pair, not after ``turn_again_s``. Both go through the
  inbound stream with ids that make a second pump's copy a redelivery.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.config.config import Config
from bot.core.ports.inbound import Envelope
from bot.core.thread.events import QueueLeft, QueueMoved, QueueTurn
from bot.core.thread.plan import Plan
from bot.shell.store.keys import Keys, text
from bot.shell.streams.inbound import InboundQueue

__all__ = ["Joined", "PairQueue", "QueuedPlan"]

log = logging.getLogger("deploybot.queue")

# KEYS: zset, hash, counter. ARGV: thread id, plan json, sha, queue_max.
# Returns {position or 0 when full, waiting count, json of the one ahead or "", superseded ids}
_JOIN = """
local z, h, seq = KEYS[1], KEYS[2], KEYS[3]
local tid, plan, sha, max = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local gone = {}
if redis.call('ZSCORE', z, tid) then
  redis.call('HDEL', h, tid .. ':woken')  -- its turn found the pair taken: wake it again
else
  local members = redis.call('ZRANGE', z, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local other = members[i]
    local raw = redis.call('HGET', h, other)
    if raw and cjson.decode(raw)['sha'] == sha then
      redis.call('ZADD', z, members[i + 1], tid)
      redis.call('ZREM', z, other)
      redis.call('HDEL', h, other, other .. ':told', other .. ':woken')
      table.insert(gone, other .. '|' .. cjson.decode(raw)['plan_hash'])
      break
    end
  end
end
if not redis.call('ZSCORE', z, tid) then
  local n = redis.call('ZCARD', z)
  if n >= max then
    return {0, n, '', gone}
  end
  redis.call('ZADD', z, redis.call('INCR', seq), tid)
end
redis.call('HSET', h, tid, plan)
local rank = redis.call('ZRANK', z, tid)
redis.call('HSET', h, tid .. ':told', rank + 1)
local ahead = ''
if rank > 0 then
  ahead = redis.call('HGET', h, redis.call('ZRANGE', z, rank - 1, rank - 1)[1]) or ''
end
return {rank + 1, redis.call('ZCARD', z), ahead, gone}
"""


class QueuedPlan(BaseModel):
    """What a thread waits with: enough to say who is ahead, and to find it by plan id."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    plan_hash: str
    version: str
    sha: str
    requester: str

    def describe(self, service: str) -> str:
        return f"{service} {self.version} by {self.requester}"


@dataclass(frozen=True, kw_only=True)
class Joined:
    """``position`` 0: the queue was full (``waiting`` plans). ``superseded``: the threads
    (and plan hashes) whose plan for the same commit this one replaced (they are told)."""

    position: int
    waiting: int
    ahead: QueuedPlan | None
    superseded: list[tuple[str, str]]


def _plan_of(raw: Any) -> QueuedPlan | None:
    if not raw:
        return None
    try:
        return QueuedPlan.model_validate_json(raw)
    except ValidationError:
        return None


class PairQueue:
    def __init__(
        self, *, redis: "Redis", keys: Keys, inbound: InboundQueue, turn_again_s: float = 10
    ) -> None:
        self._redis = redis
        self._keys = keys
        self._inbound = inbound
        self._join = redis.register_script(_JOIN)
        self._turn_again_s = turn_again_s

    def _names(self, service: str, environment: str) -> list[str]:
        k = self._keys
        return [
            k.queue(service, environment),
            k.queue_plans(service, environment),
            k.queue_counter(service, environment),
        ]

    async def join(self, thread_id: str, plan: Plan, *, queue_max: int) -> Joined:
        entry = QueuedPlan(
            thread_id=thread_id,
            plan_hash=plan.plan_hash,
            version=plan.version,
            sha=plan.sha,
            requester=plan.requester,
        )
        names = self._names(plan.service, plan.environment)
        position, waiting, ahead, gone = await self._join(
            keys=names, args=[thread_id, entry.model_dump_json(), plan.sha, queue_max]
        )
        await self._redis.sadd(self._keys.queues(), f"{plan.service}\x1f{plan.environment}")
        return Joined(
            position=int(position),
            waiting=int(waiting),
            ahead=_plan_of(ahead),
            superseded=[(t, h) for t, _, h in (text(g).partition("|") for g in gone)],
        )

    def leave_in(self, pipe: "Pipeline", thread_id: str, plan: Plan) -> None:
        zset, plans, _ = self._names(plan.service, plan.environment)
        pipe.zrem(zset, thread_id)
        pipe.hdel(plans, thread_id, f"{thread_id}:told", f"{thread_id}:woken")

    async def leave(self, thread_id: str, plan: Plan) -> None:
        pipe = self._redis.pipeline(transaction=True)
        self.leave_in(pipe, thread_id, plan)
        await pipe.execute()

    def head_in(self, pipe: "Pipeline", *, service: str, environment: str) -> None:
        """Queue the read of who is first in line (``head_of`` reads the reply)."""
        pipe.zrange(self._keys.queue(service, environment), 0, 0)

    @staticmethod
    def head_of(reply: Sequence[bytes | str]) -> str | None:
        return text(reply[0]) if reply else None

    async def waiting(self, *, service: str, environment: str) -> list[QueuedPlan]:
        """The plans waiting, first in line first."""
        zset, plans, _ = self._names(service, environment)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(zset, 0, -1)
        pipe.hgetall(plans)
        ids, fields = await pipe.execute()
        by_id = {text(k): v for k, v in fields.items()}
        found = (_plan_of(by_id.get(text(i))) for i in ids)
        return [p for p in found if p is not None]

    async def find(self, plan_id: str) -> tuple[str, str, QueuedPlan] | None:
        """The waiting plan whose hash starts with ``plan_id``, with its service and
        environment (None: no queue holds one; several: the first found)."""
        pairs = [text(p).split("\x1f") for p in await self._redis.smembers(self._keys.queues())]
        pairs = [p for p in pairs if len(p) == 2]
        if not pairs or not plan_id:
            return None
        pipe = self._redis.pipeline(transaction=False)
        for service, environment in pairs:
            pipe.hgetall(self._keys.queue_plans(service, environment))
        for (service, environment), fields in zip(pairs, await pipe.execute(), strict=True):
            for key, raw in fields.items():
                if ":" in text(key):
                    continue  # :told, :woken
                plan = _plan_of(raw)
                if plan is not None and plan.plan_hash.startswith(plan_id):
                    return service, environment, plan
        return None

    async def pump(self, *, config: Config, now: datetime) -> int:
        """Tell moved plans their place and the first its turn; how many were told."""
        pairs = [text(p).split("\x1f") for p in await self._redis.smembers(self._keys.queues())]
        pairs = [p for p in pairs if len(p) == 2 and p[0] in config.services]
        if not pairs:
            return 0
        pipe = self._redis.pipeline(transaction=False)
        for service, environment in pairs:
            zset, plans, _ = self._names(service, environment)
            pipe.zrange(zset, 0, -1)
            pipe.hgetall(plans)
            pipe.exists(self._keys.env_lock(service, environment))
        replies = await pipe.execute()
        told = 0
        writes = self._redis.pipeline(transaction=False)
        for i, (service, environment) in enumerate(pairs):
            ids, fields, held = replies[3 * i : 3 * i + 3]
            told += await self._tell(
                writes, service, environment, [text(t) for t in ids], fields, bool(held), now
            )
        if told:
            await writes.execute()
        return told

    async def _tell(
        self,
        writes: "Pipeline",
        service: str,
        environment: str,
        ids: list[str],
        raw: dict[Any, Any],
        held: bool,
        now: datetime,
    ) -> int:
        fields = {text(k): text(v) for k, v in raw.items()}
        plans_key = self._keys.queue_plans(service, environment)
        told = 0
        ahead: QueuedPlan | None = None
        for rank, thread_id in enumerate(ids):
            plan = _plan_of(fields.get(thread_id))
            if plan is None:  # unreadable: it would block the line for ever
                writes.zrem(self._keys.queue(service, environment), thread_id)
                continue
            position = rank + 1
            behind = ahead.describe(service) if ahead is not None else None
            if fields.get(f"{thread_id}:told") != str(position):
                event = QueueMoved(
                    id=f"queue-moved-{plan.plan_hash}-{position}",
                    at=now,
                    plan_hash=plan.plan_hash,
                    position=position,
                    behind=behind,
                )
                await self._inbound.publish(Envelope(thread_id=thread_id, event=event))
                writes.hset(plans_key, f"{thread_id}:told", str(position))
                told += 1
            woken = float(fields.get(f"{thread_id}:woken", "0") or 0)
            if position == 1 and not held and now.timestamp() - woken >= self._turn_again_s:
                turn = QueueTurn(
                    id=f"queue-turn-{plan.plan_hash}-{int(now.timestamp())}",
                    at=now,
                    plan_hash=plan.plan_hash,
                )
                await self._inbound.publish(Envelope(thread_id=thread_id, event=turn))
                writes.hset(plans_key, f"{thread_id}:woken", str(now.timestamp()))
                told += 1
            ahead = plan
        return told

    async def tell_superseded(
        self, superseded: Sequence[tuple[str, str]], *, by: str, plan: Plan, now: datetime
    ) -> None:
        """Threads whose queued plan (thread id, plan hash) a newer one for the same commit
        replaced: each hears it through the inbound stream, naming the plan it ends."""
        for thread_id, plan_hash in superseded:
            event = QueueLeft(
                id=f"queue-left-{plan_hash}-{plan.plan_hash}",
                at=now,
                plan_hash=plan_hash,
                why="superseded",
                by=by,
            )
            await self._inbound.publish(Envelope(thread_id=thread_id, event=event))
