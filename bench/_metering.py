"""Measuring Redis per phase: commands, round trips, CPU, memory; and removing keys."""

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from _traffic import Traffic
from redis.asyncio import Redis

from bot.shell.store.keys import Keys

__all__ = ["Meter", "TrafficSource", "key_bytes", "keyspace_bytes", "unlink_prefix"]


class TrafficSource(Protocol):
    async def traffic(self) -> dict[str, Any]:
        """The worker's counters: ``round_trips``, ``cpu_s`` (see ``bench/_worker.py``)."""
        ...


async def _commandstats(redis: "Redis") -> Counter[str]:
    """Calls per command since the server started (``memory|usage`` counted as ``memory``)."""
    info = await redis.info("commandstats")
    calls: Counter[str] = Counter()
    for name, stats in info.items():
        if isinstance(stats, dict):
            calls[name.removeprefix("cmdstat_").split("|")[0]] += int(stats["calls"])
    return calls


@dataclass
class Meter:
    """Per phase: Redis commands (the server's commandstats minus what the bench sent itself,
    so the worker's, including those its Lua scripts run), the worker's round trips and CPU
    time, and Redis's CPU time."""

    redis: "Redis"
    worker: TrafficSource
    server: Counter[str] = field(default_factory=Counter)
    ours: Counter[str] = field(default_factory=Counter)
    trips: int = 0
    worker_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    started: float = 0.0

    async def start(self) -> None:
        self.server, self.trips, self.worker_cpu_s, self.redis_cpu_s = await self._read()
        self.ours = Counter(Traffic.commands)
        self.started = time.perf_counter()

    async def stop(self, n: int, phase: str) -> list[str]:
        wall_s = time.perf_counter() - self.started
        server, trips, worker_cpu_s, redis_cpu_s = await self._read()
        worker = (server - self.server) - (Counter(Traffic.commands) - self.ours)
        total = sum(worker.values())
        top = ", ".join(f"{name} {calls / n:.1f}" for name, calls in worker.most_common(9))
        cpu_s = worker_cpu_s - self.worker_cpu_s
        redis_s = redis_cpu_s - self.redis_cpu_s
        return [
            f"{phase}: worker CPU {1000 * cpu_s / n:.2f} ms/thread ({100 * cpu_s / wall_s:.0f}% "
            f"of a core), Redis CPU {1000 * redis_s / n:.2f} ms/thread; worker round trips "
            f"{(trips - self.trips) / n:.1f}/thread",
            f"  Redis commands {total / n:.1f}/thread ({top})",
        ]

    async def _read(self) -> tuple[Counter[str], int, float, float]:
        server = await _commandstats(self.redis)
        cpu = await self.redis.info("cpu")
        traffic = await self.worker.traffic()
        return (
            server,
            int(traffic["round_trips"]),
            float(traffic["cpu_s"]),
            float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
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
