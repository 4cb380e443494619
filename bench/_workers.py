"""The deploybot worker subprocesses (``bench/_worker.py``) a run drives: start, report, stop.

Each worker runs in its own session (Ctrl-C reaches the bench, which stops them) with its own
consumer name, so N of them share one Redis as production workers do. ``Workers.start`` starts
them one after the other and stops those already started if one fails; ``Workers.stop`` sends
SIGTERM to each, then SIGKILL after a grace period, by process id.
"""

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from _common import BenchError

__all__ = ["WorkerProcess", "Workers"]

WORKER = Path(__file__).with_name("_worker.py")


class WorkerProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, argv: list[str]) -> "WorkerProcess":
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops the worker
        )
        worker = cls(proc)
        try:
            line = await worker._line(timeout_s=30)
        except BaseException:
            await worker.stop()
            raise
        if line != "ready":
            await worker.stop()
            raise BenchError(f"worker did not start (said {line!r})")
        return worker

    async def _line(self, *, timeout_s: float) -> str:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout_s):
            raw = await self.proc.stdout.readline()
        if not raw:
            raise BenchError(f"worker exited (code {await self.proc.wait()})")
        return raw.decode().strip()

    async def traffic(self) -> dict[str, Any]:
        """The worker's counters so far (see ``bench/_worker.py``)."""
        self.proc.send_signal(signal.SIGUSR1)
        got: dict[str, Any] = json.loads(await self._line(timeout_s=10))
        return got

    async def stop(self, *, grace_s: float = 10) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace_s):
                await self.proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()


class Workers:
    """N worker processes on one Redis and key prefix."""

    def __init__(self) -> None:
        self.procs: list[WorkerProcess] = []

    async def start(
        self,
        *,
        count: int,
        redis_url: str,
        prefix: str,
        config: Path,
        concurrency: int,
        lock_wait_s: float,
        profile: Path | None,
        asyncio_loop: bool = False,
    ) -> None:
        for i in range(count):
            argv = [
                "--redis-url",
                redis_url,
                "--prefix",
                prefix,
                "--config",
                str(config),
                "--concurrency",
                str(concurrency),
                "--lock-wait-s",
                str(lock_wait_s),
                "--consumer",
                f"bench-worker-{i}",
            ]
            if asyncio_loop:
                argv.append("--asyncio-loop")
            if profile is not None and i == 0:  # the first worker only
                argv += ["--profile", str(profile)]
            self.procs.append(await WorkerProcess.start(argv))

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.procs]

    async def traffic(self) -> list[dict[str, Any]]:
        return [await w.traffic() for w in self.procs]

    async def sent(self) -> int:
        return sum(int(t["sent"]) for t in await self.traffic())

    async def stop(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.procs))
