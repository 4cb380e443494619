"""Redis lost its data: no deploy lock is granted until every lease from before has run out.

The *intact mark* (``Keys.intact()``: ``<random id>:<Redis time in ms when made>:<run id>``)
is a key without expiry, made by the Redis server whose ``run_id`` it names. It is replaced
(a small script: Redis's own ``TIME`` and ``INFO``) when it is missing -- ``FLUSHALL``, a
restart without persistence, a failover to an empty replica erase it with the locks -- and
when the server that answers is another one than made it: a restart (from an older RDB
snapshot, say) or a failover to a replica may have lost recent writes, locks included, while
the mark survived. So the mark's time is never earlier than a loss. No lock is granted before
``made + quiet_period_ms(lock_ttl_ms)``, checked inside the lock script against Redis's clock
(every process honours it, including ones started after the loss), with the run id checked
there too (a restart between reading the mark and taking a lock). A process that saw the mark
change also counts the quiet period on its own monotonic clock, so a Redis clock that jumps
forward cannot shorten it. If the new mark is lost again, the next one starts a new quiet
period: losing the record costs time, never safety. bot/shell/lock/lease.py says why this, with
the lock's renewal, is enough.

The price: deploys asked within a lease of a Redis restart wait for the rest of it, even when
nothing was lost (the bot cannot tell). A process that never saw an older mark cannot tell a
new Redis from an emptied one either: a young mark means "wait". The mark is made when a
worker starts (its watch task reads it every second), so a new installation waits only for
deploys asked within a lease of its first start. The embedded store (``deploybot chat``
without ``REDIS_URL``) has no guard: it lives in the process, and loses its data only when the
process and every command it supervises die with it.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.shell.store.keys import Keys, text
from bot.shell.store.redis_faults import TRANSIENT, pause

__all__ = ["RUN_ID_LUA", "STOP_MARGIN_MS", "DataLossGuard", "Mark", "quiet_period_ms"]

log = logging.getLogger("deploybot.dataloss")

#: Beyond a lease: the supervisor's poll and kill (bot/shell/process/supervisor.py), a renewal's
#: round trip, and scheduling under load. See bot/shell/lock/lease.py.
STOP_MARGIN_MS = 2_000

#: Lua: the answering server's run id in ``run`` ('' where INFO is not available).
RUN_ID_LUA = """
local info = redis.pcall('INFO', 'server')
local run = type(info) == 'string' and string.match(info, 'run_id:(%x+)') or ''
"""

_MARK = f"""{RUN_ID_LUA}
local cur = redis.call('GET', KEYS[1])
local t = redis.call('TIME')
local now_ms = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
if cur and string.match(cur, ':(%x*)$') == run then return {{cur, now_ms}} end
local made = ARGV[1] .. ':' .. now_ms .. ':' .. run
redis.call('SET', KEYS[1], made)
return {{made, now_ms}}
"""


def quiet_period_ms(lock_ttl_ms: int) -> int:
    """How long after a loss no lock is granted: one lock lease (every lease renewed before
    the loss has run out) plus the margin to stop its command (pure)."""
    return lock_ttl_ms + STOP_MARGIN_MS


@dataclass(frozen=True)
class Mark:
    id: str
    made_ms: int  # Redis's clock
    run_id: str  # the server that made it

    def stored(self) -> str:
        return f"{self.id}:{self.made_ms}:{self.run_id}"

    @classmethod
    def parse(cls, raw: object) -> "Mark":
        mark_id, made, run_id = text(raw).split(":")
        return cls(id=mark_id, made_ms=int(made), run_id=run_id)


class DataLossGuard:
    """This process's view of the intact mark: since when the data is known intact, and
    until when no lock may be granted."""

    def __init__(
        self,
        *,
        redis: "Redis",
        keys: Keys,
        lock_ttl_ms: int,
        new_id: Callable[[], str],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.quiet_ms = quiet_period_ms(lock_ttl_ms)
        self._new_id = new_id
        self._monotonic = monotonic
        self._mark = redis.register_script(_MARK)
        self._known: Mark | None = None
        self._quiet_until_s = 0.0  # monotonic
        self._said_until_s = 0.0
        #: Losses this process has seen (the mark changed or vanished under it).
        self.losses = 0

    @property
    def known(self) -> Mark | None:
        return self._known

    async def look(self) -> Mark:
        """Read the mark (making a new one if it is missing or another server made it) and
        learn from it."""
        raw, now_ms = await self._mark(keys=[self._keys.intact()], args=[self._new_id()])
        mark = Mark.parse(raw)
        young_s = (mark.made_ms + self.quiet_ms - int(now_ms)) / 1000
        if self._known is not None and mark != self._known:
            self._lost(f"made {_utc(mark.made_ms):%H:%M:%S} UTC")
        elif young_s > 0:  # a new (or emptied) Redis: the same wait, on our clock too
            self._quiet_until_s = max(self._quiet_until_s, self._monotonic() + young_s)
        self._known = mark
        return mark

    def not_before_ms(self) -> int:
        """Redis time before which no lock may be granted (0: nothing known yet)."""
        return self._known.made_ms + self.quiet_ms if self._known is not None else 0

    def quiet_left_s(self) -> float:
        """Seconds this process still refuses to grant any lock (its own clock)."""
        return max(0.0, self._quiet_until_s - self._monotonic())

    def until(self) -> datetime:
        """When grants resume, as far as this process can tell (UTC): the later of Redis's
        word and this process's own count."""
        own = datetime.now(UTC) + timedelta(seconds=self.quiet_left_s())
        return max(_utc(self.not_before_ms()), own)

    def queue_read(self, pipe: "Pipeline") -> None:
        """Queue a read of the mark (right after a grant, on the same pipeline)."""
        pipe.get(self._keys.intact())

    def unchanged(self, raw: object) -> bool:
        """The mark read right after a grant is the one known before it, so the grant was
        made on intact data. Otherwise the data was lost meanwhile (and that is learnt)."""
        if self._known is not None and raw is not None and Mark.parse(raw) == self._known:
            return True
        self.forget("it changed while a lock was being taken")
        return False

    def forget(self, how: str) -> None:
        """The data was lost (``how``): quiet from now; the next look reads the new mark."""
        self._lost(how)
        self._known = None

    def _lost(self, how: str) -> None:
        now_s = self._monotonic()
        self._quiet_until_s = now_s + self.quiet_ms / 1000
        if now_s < self._said_until_s:  # the same loss, seen twice: said once
            return
        self._said_until_s = self._quiet_until_s
        self.losses += 1
        log.error(
            "No deploy lock is granted for %.0f s: Redis may have lost data (restarted, "
            "failed over or emptied: its intact mark is new, %s), and every lock from "
            "before must run out and its command be stopped first. Keep Redis's data with "
            "AOF persistence (docs/operations.md).",
            self.quiet_ms / 1000,
            how,
        )

    async def watch(self, *, stop: asyncio.Event, every_s: float = 1.0) -> None:
        """Read the mark every ``every_s`` until ``stop``: a loss is seen (and a new mark
        made, starting the quiet period) within a second, not at the next deploy."""
        while not stop.is_set():
            try:
                await self.look()
            except TRANSIENT as exc:
                log.debug("reading the intact mark failed (%s); retrying", exc)
            await pause(stop, every_s)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
