"""What the benchmark's parts share: its result rows, its error, bounded concurrency, quantiles."""

import asyncio
import math
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LAUNCH_TEXT",
    "BenchError",
    "Latency",
    "Phase",
    "Result",
    "bounded",
    "quantile",
    "verdict",
]

LAUNCH_TEXT = "please ship backend to production"


class BenchError(Exception):
    """The benchmark could not measure what it set out to (a thread stuck, a wrong state)."""


@dataclass(frozen=True, kw_only=True)
class Phase:
    """One measured phase of a deploybot run (launch or approve+deploy), per thread."""

    name: str
    wall_s: float
    worker_cpu_ms: float  # all workers together, per thread
    worker_pct: tuple[float, ...]  # each worker's CPU over the phase, % of a core
    round_trips: float
    turn_round_trips: float  # per thread: those made while an entry was handled (the turn's)
    commands: float
    supervisor_cpu_ms: float  # per thread; 0.0 when not measured
    supervisor_measured: bool
    children_cpu_ms: float  # per thread: reaped child processes (supervisors, commands, git)
    gc_ms: float = 0.0  # per thread: the workers' garbage collections (wall time)


@dataclass(frozen=True, kw_only=True)
class Latency:
    """P6: approval decided -> deploy command started, seconds per sample."""

    samples: list[float]
    rounds: int
    per_round: int


@dataclass
class Result:
    system: str
    threads: int
    total_s: float
    launch_s: float
    approve_s: float
    bytes_per_paused: float | None
    notes: list[str] = field(default_factory=list)
    phases: dict[str, Phase] = field(default_factory=dict)
    workers: int = 0
    paused: int = 0  # threads seeded paused before measuring
    seeded_bytes: float | None = None  # used_memory growth per seeded paused thread
    latency: Latency | None = None
    approve_p95_s: float | None = None  # approval_decided -> deploy_finished
    deploy_cpu_ms: float | None = None  # the peer: its deploy subprocesses' CPU per thread

    @property
    def per_s(self) -> float:
        return self.threads / self.total_s

    @property
    def launch_per_s(self) -> float:
        return self.threads / self.launch_s

    @property
    def approve_per_s(self) -> float:
        return self.threads / self.approve_s


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank, 0 < q <= 1) of ``values`` (not empty)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


async def bounded(jobs: Iterable[Awaitable[Any]], *, limit: int) -> list[Any]:
    """Await ``jobs`` with at most ``limit`` in flight; their results in order."""
    slots = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with slots:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))
