"""What the benchmark's parts share: its result row, its error, bounded concurrency."""

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LAUNCH_TEXT", "BenchError", "Result", "bounded"]

LAUNCH_TEXT = "please ship backend to production"


class BenchError(Exception):
    """The benchmark could not measure what it set out to (a thread stuck, a wrong state)."""


@dataclass
class Result:
    system: str
    threads: int
    total_s: float
    launch_s: float
    approve_s: float
    bytes_per_paused: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.threads / self.total_s

    @property
    def launch_per_s(self) -> float:
        return self.threads / self.launch_s

    @property
    def approve_per_s(self) -> float:
        return self.threads / self.approve_s


async def bounded(jobs: Iterable[Awaitable[Any]], *, limit: int) -> list[Any]:
    """Await ``jobs`` with at most ``limit`` in flight; their results in order."""
    slots = asyncio.Semaphore(limit)

    async def one(job: Awaitable[Any]) -> Any:
        async with slots:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))
