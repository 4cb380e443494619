"""(a) deploybot: worker subprocesses on real Redis, driven through launch and approval.

One run, on a fresh key prefix: the steady state (an old intact mark, the tags cache:
bench/_drive.py), ``workers`` worker processes (bench/_workers.py), a warm-up, optionally
``paused`` seeded paused threads (bench/_paused.py), the measured launch and approve+deploy
phases with their checks (every thread paused, then done with one deploy; nothing
dead-lettered), optionally the P6 latency rounds (bench/_p6.py). The workers are stopped and
every key under the prefix removed at the end, also on error or cancellation.
"""

import argparse
import contextlib
import secrets
import time
from pathlib import Path

from _common import BenchError, Result, bounded
from _drive import (
    approve,
    check_deploys,
    check_status,
    latencies,
    launch,
    load_all,
    steady_state,
    wait_inbound,
    wait_outbox,
)
from _fixture import PARKED, Fixture
from _metering import Meter, key_bytes, prefix_breakdown, unlink_prefix
from _p6 import run_p6
from _paused import seed_paused
from _workers import Workers
from redis.asyncio import Redis

from bot.app.settings import Settings
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox

__all__ = ["run_deploybot"]


async def run_deploybot(
    args: argparse.Namespace,
    fixture: Fixture,
    *,
    workers: int,
    paused: int = 0,
    p6_rounds: int = 0,
    profile: Path | None = None,
    asyncio_loop: bool = False,
) -> Result:
    n: int = args.threads
    services = fixture.services
    settings = Settings(
        redis_url=args.redis_url,
        deploybot_key_prefix=f"bench-{secrets.token_hex(4)}",
        deploybot_config=fixture.config,
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
        f"key prefix {prefix}; {workers} worker(s), concurrency {args.concurrency} each; "
        + (
            "every thread deploys backend to production (one environment lock)"
            if len(services) == 1
            else f"threads round-robin over {len(services)} services"
        )
    ]
    pool = Workers()
    result = Result(
        system=f"deploybot ({workers} worker{'s' * (workers > 1)}"
        + (f", {paused:,} paused" if paused else "")
        + (", profiled: cProfile slows it" if profile is not None else "")
        + (", asyncio's loop" if asyncio_loop else "")
        + ")",
        threads=n,
        total_s=0.0,
        launch_s=0.0,
        approve_s=0.0,
        bytes_per_paused=None,
        notes=notes,
        workers=workers,
        paused=paused,
    )
    try:
        await redis.ping()
        fixture.deploy_log.write_text("")
        notes += await steady_state(
            redis,
            keys=keys,
            lock_ttl_ms=settings.deploybot_lock_ttl_ms,
            repo=fixture.config.parent / "backend",
            services=[*services, PARKED, *fixture.p6_services],
            new_installation=args.new_installation,
        )
        await pool.start(
            count=workers,
            redis_url=args.redis_url,
            prefix=prefix,
            config=fixture.config,
            concurrency=args.concurrency,
            lock_wait_s=args.timeout_s,
            profile=profile,
            asyncio_loop=asyncio_loop,
        )
        print(f"  worker pid(s) {pool.pids}", flush=True)
        meter = Meter(redis, pool)

        # -- warm-up: connection pools, script cache; these threads stay paused -------------
        warm = [f"w{i:05d}" for i in range(2 * args.concurrency)]
        await bounded((queue.publish(launch(t, PARKED)) for t in warm), limit=32)
        await wait_inbound(redis, keys=keys, timeout_s=args.timeout_s, what="the warm-up launches")
        await wait_outbox(outbox, timeout_s=args.timeout_s)
        notes.append(f"warm-up: {len(warm)} launches on {PARKED!r} before measuring (not counted)")
        if paused:
            print(f"  seeding {paused:,} paused threads ...", flush=True)
            t = time.perf_counter()
            seeded = await seed_paused(redis, keys=keys, store=store, src=warm[0], count=paused)
            result.seeded_bytes = seeded.bytes_per_thread
            notes.append(
                f"seeded {paused:,} paused threads in {time.perf_counter() - t:.1f} s, copies "
                f"of warm-up thread {warm[0]}: {seeded.copied}; used_memory growth "
                f"{seeded.bytes_per_thread:.0f} B per seeded thread"
            )

        # -- launch: free text from a requester who may not approve -----------------------
        memory_before = await redis.info("memory")
        await meter.start()
        t0 = time.perf_counter()
        await bounded((queue.publish(launch(t, service_of[t])) for t in ids), limit=32)
        await wait_inbound(redis, keys=keys, timeout_s=args.timeout_s, what="the launches")
        t1 = time.perf_counter()
        launched, traffic = await meter.stop(n, "launch")
        check_status(await load_all(store, ids), "awaiting_approval", "launch")
        await wait_outbox(outbox, timeout_s=args.timeout_s)
        memory_paused = await redis.info("memory")
        paused_key_bytes = await store.memory_bytes(ids[0])
        paused_stored = int(await redis.strlen(keys.thread(ids[0])))
        paused_keys = await key_bytes(redis, keys, ids)
        breakdown = "" if paused else await prefix_breakdown(redis, keys.prefix, per=n)

        # -- approve: an allowed approver; the deploy runs ----------------------------------
        await meter.start()
        t2 = time.perf_counter()
        await bounded((queue.publish(approve(t)) for t in ids), limit=32)
        await wait_inbound(redis, keys=keys, timeout_s=args.timeout_s, what="the approvals")
        t3 = time.perf_counter()
        approved, more = await meter.stop(n, "approve+deploy")
        traffic += more

        # -- correctness --------------------------------------------------------------------
        threads = await load_all(store, ids)
        check_status(threads, "done", "approval")
        notes.append(check_deploys(threads, fixture.deploy_log if args.count_deploys else None))
        p95_s, latency_note = latencies(threads)
        notes.append(latency_note)
        await wait_outbox(outbox, timeout_s=args.timeout_s)
        sent = await pool.sent() - len(warm)
        notes.append(
            f"all {n} threads awaiting_approval after launch and done at the end "
            f"(ThreadStore.load); {sent} messages delivered"
        )
        grew = (int(memory_paused["used_memory"]) - int(memory_before["used_memory"])) / n
        if breakdown:
            notes.append(f"all keys under the prefix, bytes per paused thread: {breakdown}")
        notes.append(
            f"memory per paused thread: used_memory {grew:.0f} B (noisy on a shared server); "
            f"by key: {paused_keys}; one thread key: MEMORY USAGE {paused_key_bytes} B, "
            f"STRLEN {paused_stored} B paused, {await redis.strlen(keys.thread(ids[0]))} B done"
        )
        notes += traffic
        result.total_s = (t1 - t0) + (t3 - t2)
        result.launch_s = t1 - t0
        result.approve_s = t3 - t2
        result.bytes_per_paused = grew
        result.phases = {"launch": launched, "approve": approved}
        result.approve_p95_s = p95_s

        if p6_rounds:
            print(f"  P6: {p6_rounds} rounds of 32 approvals at once ...", flush=True)
            result.latency, more = await run_p6(
                redis,
                keys=keys,
                services=fixture.p6_services,
                rounds=p6_rounds,
                per_round=32,
                log=fixture.p6_log,
                timeout_s=args.timeout_s,
            )
            notes += more
        dead = int(await redis.xlen(keys.dead_letter()))
        if dead:
            raise BenchError(f"{dead} entries were dead-lettered")
        notes.append("0 dead letters")
        return result
    finally:
        await pool.stop()
        with contextlib.suppress(Exception):
            await unlink_prefix(redis, prefix)
        await redis.aclose()
