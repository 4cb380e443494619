"""Measuring Redis and the workers per phase: commands, round trips, CPU, memory; and removing
keys."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from _common import Phase
from _traffic import Traffic
from redis.asyncio import Redis

from bot.shell.store.keys import Keys

__all__ = [
    "Meter",
    "TrafficSource",
    "key_bytes",
    "keyspace_bytes",
    "prefix_breakdown",
    "unlink_prefix",
]


class TrafficSource(Protocol):
    async def traffic(self) -> list[dict[str, Any]]:
        """Each worker's counters: ``round_trips``, ``cpu_s``, ``supervisor_cpu_s``,
        ``children_cpu_s``, ``gc_s`` (see ``bench/_worker.py``)."""
        ...


async def _commandstats(redis: "Redis") -> Counter[str]:
    """Calls per command since the server started (``memory|usage`` counted as ``memory``)."""
    info = await redis.info("commandstats")
    calls: Counter[str] = Counter()
    for name, stats in info.items():
        if isinstance(stats, dict):
            calls[name.removeprefix("cmdstat_").split("|")[0]] += int(stats["calls"])
    return calls


@dataclass(frozen=True)
class _Reading:
    server: Counter[str]
    workers: list[dict[str, Any]]
    redis_cpu_s: float

    def sum(self, name: str) -> float:
        return sum(float(w[name]) for w in self.workers)


@dataclass
class Meter:
    """Per phase: Redis commands (the server's commandstats minus what the bench sent itself,
    so the workers', including those their Lua scripts run), the workers' round trips and CPU
    time (together and each), the deploy supervisors' CPU, and Redis's CPU time."""

    redis: "Redis"
    workers: TrafficSource
    before: _Reading | None = None
    ours: Counter[str] = field(default_factory=Counter)
    started: float = 0.0

    async def start(self) -> None:
        self.before = await self._read()
        self.ours = Counter(Traffic.snapshot()["commands"])
        self.started = time.perf_counter()

    async def stop(self, n: int, phase: str) -> tuple[Phase, list[str]]:
        wall_s = time.perf_counter() - self.started
        after = await self._read()
        before = self.before
        assert before is not None
        ours = Counter(Traffic.snapshot()["commands"]) - self.ours  # the bench's own commands
        worker = (after.server - before.server) - ours
        total = sum(worker.values())
        top = ", ".join(f"{name} {calls / n:.1f}" for name, calls in worker.most_common(9))

        def delta(name: str) -> float:
            return after.sum(name) - before.sum(name)

        pct = tuple(
            100 * (float(a["cpu_s"]) - float(b["cpu_s"])) / wall_s
            for a, b in zip(after.workers, before.workers, strict=True)
        )
        measured = all(bool(w.get("supervisor_measured")) for w in after.workers)
        got = Phase(
            name=phase,
            wall_s=wall_s,
            worker_cpu_ms=1000 * delta("cpu_s") / n,
            worker_pct=pct,
            round_trips=delta("round_trips") / n,
            turn_round_trips=delta("turn_round_trips") / n,
            commands=total / n,
            supervisor_cpu_ms=1000 * delta("supervisor_cpu_s") / n,
            supervisor_measured=measured,
            children_cpu_ms=1000 * delta("children_cpu_s") / n,
            gc_ms=1000 * delta("gc_s") / n,
        )
        redis_s = after.redis_cpu_s - before.redis_cpu_s
        each = " + ".join(f"{p:.0f}%" for p in pct)
        return got, [
            f"{phase}: worker CPU {got.worker_cpu_ms:.2f} ms/thread ({each} of a core), Redis "
            f"CPU {1000 * redis_s / n:.2f} ms/thread; worker round trips "
            f"{got.round_trips:.1f}/thread (the turn's own {got.turn_round_trips:.1f}; the rest: "
            "reading entries, the outbox pump, timers); of the worker's time, garbage collection "
            f"{got.gc_ms:.2f} ms/thread",
            f"  Redis commands {got.commands:.1f}/thread ({top})",
            f"  supervisor CPU {got.supervisor_cpu_ms:.2f} ms/thread"
            + ("" if measured else " (not measured: no app.supervisors)")
            + f"; reaped child processes (supervisors, commands, git) {got.children_cpu_ms:.2f} "
            "ms/thread",
        ]

    async def _read(self) -> _Reading:
        server = await _commandstats(self.redis)
        cpu = await self.redis.info("cpu")
        return _Reading(
            server=server,
            workers=await self.workers.traffic(),
            redis_cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        )


def keyspace_bytes(stats: dict[str, Any]) -> int:
    """The keyspace's own hash tables (keys and expires) in every database, from MEMORY STATS."""
    return sum(
        int(db.get("overhead.hashtable.main", 0)) + int(db.get("overhead.hashtable.expires", 0))
        for name, db in stats.items()
        if name.startswith("db.") and isinstance(db, dict)
    )


async def key_bytes(redis: "Redis", keys: Keys, ids: list[str]) -> str:
    """MEMORY USAGE summed over every thread's own keys, per thread (robust to other
    clients' activity, but without the keyspace's own per-key overhead)."""
    pipe = redis.pipeline(transaction=False)
    for tid in ids:
        pipe.memory_usage(keys.thread(tid))
    got = [int(b or 0) for b in await pipe.execute()]
    thread_b = sum(got) / len(ids)
    index_b = int(await redis.memory_usage(keys.thread_index(), samples=0) or 0)
    index_n = int(await redis.zcard(keys.thread_index()))
    delivered_b = int(await redis.memory_usage(keys.delivered(), samples=0) or 0)
    delivered_n = max(1, int(await redis.zcard(keys.delivered())))
    # Each paused thread has delivered one message (its approval request).
    per = thread_b + delivered_b / delivered_n + index_b / index_n
    return (
        f"{per:.0f} B = thread {thread_b:.0f} + delivered mark {delivered_b / delivered_n:.0f} "
        f"+ threads index {index_b / index_n:.0f}"
    )


async def prefix_breakdown(redis: "Redis", prefix: str, *, per: int) -> str:
    """Every key under ``prefix`` by kind (its name without ids), bytes per ``per`` threads:
    what the used_memory delta is made of."""
    totals: dict[str, int] = {}
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        name = key.decode()
        kind = name.split("}:")[-1] if "}:" in name else name.removeprefix(prefix + ":")
        kind = kind.split(":")[0]
        totals[kind] = totals.get(kind, 0) + int(await redis.memory_usage(key, samples=0) or 0)
    top = sorted(totals.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{kind} {size / per:.0f}" for kind, size in top)


async def unlink_prefix(redis: "Redis", prefix: str) -> int:
    removed = 0
    batch: list[bytes] = []
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            removed += int(await redis.unlink(*batch))
            batch = []
    if batch:
        removed += int(await redis.unlink(*batch))
    return removed
