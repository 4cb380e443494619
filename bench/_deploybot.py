"""(a) deploybot: one worker subprocess on real Redis, driven through launch and approval."""

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import BenchError, Result, bounded
from _metering import Meter, key_bytes, keyspace_bytes, prefix_breakdown, unlink_prefix
from pydantic import TypeAdapter
from redis.asyncio import Redis

from bot.app.settings import Settings
from bot.core.thread.events import ApprovalDecided, DeployFinished, DeployStarted, UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Tag
from bot.core.thread.thread import Thread
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import Envelope, InboundQueue
from bot.shell.streams.outbox import Outbox
from bot.shell.world.tags import list_tags

__all__ = ["WorkerProcess", "run_deploybot"]

_TAG_LIST = TypeAdapter(list[Tag])
WORKER = Path(__file__).with_name("_worker.py")
POLL_S = 0.005


class WorkerProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls,
        *,
        redis_url: str,
        prefix: str,
        config: Path,
        concurrency: int,
        lock_wait_s: float,
        profile: Path | None,
    ) -> "WorkerProcess":
        argv = [
            sys.executable,
            str(WORKER),
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
        ]
        if profile is not None:
            argv += ["--profile", str(profile)]
        proc = await asyncio.create_subprocess_exec(
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
        """The worker's Redis traffic so far (see ``bench/_worker.py``)."""
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


def _now() -> datetime:
    return datetime.now(UTC)


def _event_id() -> str:
    return secrets.token_hex(6)


async def _wait_for(check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str) -> None:
    deadline = time.perf_counter() + timeout_s
    while not await check():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(POLL_S)


async def _load_all(store: ThreadStore, ids: list[str]) -> list[Thread]:
    threads = await bounded((store.load(i) for i in ids), limit=64)
    missing = [i for i, t in zip(ids, threads, strict=True) if t is None]
    if missing:
        raise BenchError(f"{len(missing)} threads missing, e.g. {missing[:3]}")
    return [t for t in threads if t is not None]


def _check_status(threads: list[Thread], expected: str, phase: str) -> None:
    statuses = Counter(t.status for t in threads)
    if statuses != Counter({expected: len(threads)}):
        bad = next(t for t in threads if t.status != expected)
        tail = [e.type for e in bad.events[-6:]]
        raise BenchError(
            f"after {phase}: statuses {dict(statuses)}, expected all {expected!r}; "
            f"e.g. thread {bad.id} ends with {tail}"
        )


def _launch(tid: str, service: str) -> Envelope:
    text = f"please ship {service} to production"
    return Envelope(
        thread_id=tid,
        origin=ApiOrigin(),
        agent="deploy",
        event=UserMessage(id=_event_id(), at=_now(), actor="api:carol", text=text),
    )


def _approve(tid: str) -> Envelope:
    return Envelope(
        thread_id=tid,
        event=UserMessage(id=_event_id(), at=_now(), actor="api:alice", text="approve"),
    )


def _check_deploys(threads: list[Thread], deploy_log: Path | None) -> str:
    for thread in threads:
        started = [e for e in thread.events if isinstance(e, DeployStarted)]
        finished = [e.result for e in thread.events if isinstance(e, DeployFinished)]
        if len(started) != 1 or finished != ["succeeded"]:
            raise BenchError(
                f"thread {thread.id}: {len(started)} deploy_started, deploy_finished {finished}"
            )
    if deploy_log is None:
        return (
            "every thread has one deploy_started and one succeeded deploy_finished "
            "(--count-deploys counts the real runs)"
        )
    ids = [t.id for t in threads]
    runs = Counter(line.split(":")[0] for line in deploy_log.read_text().split())
    if runs != Counter(dict.fromkeys(ids, 1)):
        other = [t for t, c in runs.items() if c != 1]
        raise BenchError(
            f"deploy ran {sum(runs.values())} times for {len(ids)} threads; "
            f"not once: {other[:5]}, never: {len(set(ids) - set(runs))}"
        )
    return f"the deploy command ran exactly once per thread ({len(ids)} runs counted in a file)"


def _latencies(threads: list[Thread]) -> str:
    """How long each approval took inside the worker, from the events' own timestamps."""

    def quantiles(values: list[float]) -> str:
        values.sort()
        return (
            f"median {1000 * values[len(values) // 2]:.0f} ms, "
            f"p95 {1000 * values[int(len(values) * 0.95)]:.0f} ms, max {1000 * values[-1]:.0f} ms"
        )

    runs = [e.duration_s for t in threads for e in t.events if isinstance(e, DeployFinished)]
    spans = []
    for thread in threads:
        decided = next(e.at for e in thread.events if isinstance(e, ApprovalDecided))
        finished = next(e.at for e in thread.events if isinstance(e, DeployFinished))
        spans.append((finished - decided).total_seconds())
    return (
        f"deploy command (DeployFinished.duration_s): {quantiles(runs)}; approval_decided "
        f"-> deploy_finished: {quantiles(spans)}"
    )


async def run_deploybot(
    args: argparse.Namespace, *, config: Path, services: list[str], deploy_log: Path
) -> Result:
    n: int = args.threads
    settings = Settings(
        redis_url=args.redis_url,
        deploybot_key_prefix=f"bench-{secrets.token_hex(4)}",
        deploybot_config=config,
    )
    prefix = settings.deploybot_key_prefix
    keys = Keys(prefix)
    redis = Redis.from_url(args.redis_url)
    store = ThreadStore(redis=redis, keys=keys)
    queue = InboundQueue(redis=redis, keys=keys)
    outbox = Outbox(redis=redis, keys=keys)
    ids = [f"t{i:05d}" for i in range(n)]
    service_of = {tid: services[i % len(services)] for i, tid in enumerate(ids)}
    notes = [
        f"key prefix {prefix}; worker concurrency {args.concurrency}; "
        + (
            "every thread deploys backend to production (one environment lock)"
            if len(services) == 1
            else f"threads round-robin over {len(services)} services"
        )
    ]
    worker: WorkerProcess | None = None
    try:
        await redis.ping()
        if len(services) > 1:
            # One `git ls-remote` per service otherwise; with one service it is cached after
            # the first launch, as in production.
            tags = await list_tags(str(config.parent / "backend"), limit=20)
            pipe = redis.pipeline(transaction=False)
            for service in services:
                pipe.set(keys.tags_cache(service), _TAG_LIST.dump_json(tags), px=600_000)
            await pipe.execute()
            notes.append("tags cache pre-filled for every service (git ls-remote once)")
        worker = await WorkerProcess.start(
            redis_url=args.redis_url,
            prefix=prefix,
            config=config,
            concurrency=args.concurrency,
            lock_wait_s=args.timeout_s,
            profile=args.profile,
        )
        print(f"  worker pid {worker.proc.pid}", flush=True)
        meter = Meter(redis, worker)

        async def inbound_empty() -> bool:
            return int(await redis.xlen(keys.inbound())) == 0

        async def outbox_empty() -> bool:
            return await outbox.pending("api") == 0

        async def settle(what: str) -> None:
            await _wait_for(inbound_empty, timeout_s=args.timeout_s, what=what)

        # -- warm-up: connection pools, script cache, tags cache; these threads stay paused
        warm = [f"w{i:05d}" for i in range(2 * args.concurrency)]
        await bounded((queue.publish(_launch(t, services[0])) for t in warm), limit=32)
        await settle("the warm-up launches")
        await _wait_for(outbox_empty, timeout_s=args.timeout_s, what="the outbox to drain")
        notes.append(f"warm-up: {len(warm)} launches before measuring (not counted)")

        # -- launch: free text from a requester who may not approve -----------------------
        memory_before = await redis.info("memory")
        keyspace_before = keyspace_bytes(await redis.memory_stats())
        await meter.start()
        t0 = time.perf_counter()
        await bounded((queue.publish(_launch(t, service_of[t])) for t in ids), limit=32)
        await settle("the launches")
        t1 = time.perf_counter()
        traffic = await meter.stop(n, "launch")
        _check_status(await _load_all(store, ids), "awaiting_approval", "launch")
        await _wait_for(outbox_empty, timeout_s=args.timeout_s, what="the outbox to drain")
        memory_paused = await redis.info("memory")
        keyspace_paused = keyspace_bytes(await redis.memory_stats())
        paused_key_bytes = await store.memory_bytes(ids[0])
        paused_stored = int(await redis.strlen(keys.thread(ids[0])))
        delivered_bytes = int(await redis.memory_usage(keys.delivered(), samples=0) or 0) // max(
            1, int(await redis.zcard(keys.delivered()))
        )
        paused_keys = await key_bytes(redis, keys, ids)
        paused_breakdown = await prefix_breakdown(redis, keys.prefix, per=n)

        # -- approve: an allowed approver; the deploy runs ----------------------------------
        await meter.start()
        t2 = time.perf_counter()
        await bounded((queue.publish(_approve(t)) for t in ids), limit=32)
        await settle("the approvals")
        t3 = time.perf_counter()
        traffic += await meter.stop(n, "approve+deploy")

        # -- correctness --------------------------------------------------------------------
        threads = await _load_all(store, ids)
        _check_status(threads, "done", "approval")
        notes.append(_check_deploys(threads, deploy_log if args.count_deploys else None))
        notes.append(_latencies(threads))
        dead = int(await redis.xlen(keys.dead_letter()))
        if dead:
            raise BenchError(f"{dead} entries were dead-lettered")
        await _wait_for(outbox_empty, timeout_s=args.timeout_s, what="the outbox to drain")
        sent = (await worker.traffic())["sent"] - len(warm)
        notes.append(
            f"all {n} threads awaiting_approval after launch and done at the end "
            f"(ThreadStore.load); {sent} messages delivered; 0 dead letters"
        )

        def grew(field_name: str) -> float:
            return (int(memory_paused[field_name]) - int(memory_before[field_name])) / n

        notes.append(f"all keys under the prefix, bytes per paused thread: {paused_breakdown}")
        notes.append(
            f"memory per paused thread: used_memory {grew('used_memory'):.0f} B (noisy on a "
            f"shared server); by key: {paused_keys}; keyspace tables "
            f"{(keyspace_paused - keyspace_before) / n:.0f} B"
        )
        notes.append(
            f"MEMORY USAGE of one thread key: {paused_key_bytes} B paused, "
            f"{await store.memory_bytes(ids[0])} B done ({len(threads[0].events)} "
            f"events); a delivered mark {delivered_bytes} B"
        )
        notes.append(
            f"stored thread value (STRLEN): {paused_stored} B paused, "
            f"{await redis.strlen(keys.thread(ids[0]))} B done"
        )
        notes += traffic
        return Result(
            system=f"deploybot (redis, 1 worker, {len(services)} svc)",
            threads=n,
            total_s=(t1 - t0) + (t3 - t2),
            launch_s=t1 - t0,
            approve_s=t3 - t2,
            bytes_per_paused=grew("used_memory"),
            notes=notes,
        )
    finally:
        if worker is not None:
            await worker.stop()
        with contextlib.suppress(Exception):
            await unlink_prefix(redis, prefix)
        await redis.aclose()
