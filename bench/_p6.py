"""P6 latency: approval decided -> deploy command started, with a burst of approvals.

After the main phases, in rounds: ``per_round`` more threads (each its own ``latency-NNNN``
service, so no two share a lock) are launched and left awaiting approval; then their
approvals are published at once (one pipeline of XADDs). Each deploy command is
``p6-start.sh`` (bench/_fixture.py), which records its start (``date +%s.%N``) and its
idempotency key (``<thread id>:<plan hash>``). A sample is that start minus the thread's
``ApprovalDecided.at`` (the worker's clock; same machine, same wall clock). It includes the
script's own start (``/bin/sh`` and the ``date`` it runs), which a real deploy pays too.
Each round waits until its threads are done before the next starts.

Failures: a thread that does not pause or finish, or a command that does not record its
start, within the phase timeout (``BenchError``).
"""

from pathlib import Path

from _common import BenchError, Latency, bounded, quantile
from _drive import approve, check_status, launch, load_all, wait_for, wait_inbound, wait_outbox
from redis.asyncio import Redis

from bot.core.thread.events import ApprovalDecided
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.outbox import Outbox

__all__ = ["run_p6"]


def _starts(log: Path) -> dict[str, float]:
    if not log.exists():
        return {}
    got: dict[str, float] = {}
    for line in log.read_text().splitlines():
        at, _, key = line.partition(" ")
        if key:
            got[key.split(":")[0]] = float(at)
    return got


async def run_p6(
    redis: "Redis",
    *,
    keys: Keys,
    services: list[str],
    rounds: int,
    per_round: int,
    log: Path,
    timeout_s: float,
) -> tuple[Latency, list[str]]:
    store = ThreadStore(redis=redis, keys=keys)
    queue = InboundQueue(redis=redis, keys=keys)
    outbox = Outbox(redis=redis, keys=keys)
    if len(services) < rounds * per_round:
        raise BenchError(f"P6 needs {rounds * per_round} services, the fixture has {len(services)}")

    samples: list[float] = []
    for r in range(rounds):
        ids = [f"p6r{r}t{i:03d}" for i in range(per_round)]
        mine = services[r * per_round : (r + 1) * per_round]
        await bounded(
            (queue.publish(launch(t, s)) for t, s in zip(ids, mine, strict=True)), limit=32
        )
        await wait_inbound(redis, keys=keys, timeout_s=timeout_s, what="the P6 launches")
        check_status(await load_all(store, ids), "awaiting_approval", f"P6 round {r} launch")
        await wait_outbox(outbox, timeout_s=timeout_s)
        pipe = redis.pipeline(transaction=False)
        for tid in ids:
            queue.publish_in(pipe, approve(tid))
        await pipe.execute()

        async def all_started(ids: list[str] = ids) -> bool:
            return set(ids) <= set(_starts(log))

        await wait_for(all_started, timeout_s=timeout_s, what="the P6 deploy commands")

        async def all_done(ids: list[str] = ids) -> bool:
            return all(t.status == "done" for t in await load_all(store, ids))

        await wait_for(all_done, timeout_s=timeout_s, what="the P6 threads to finish")
        starts = _starts(log)
        for thread in await load_all(store, ids):
            decided = next(e.at for e in thread.events if isinstance(e, ApprovalDecided))
            samples.append(starts[thread.id] - decided.timestamp())
    got = Latency(samples=samples, rounds=rounds, per_round=per_round)
    return got, [
        f"P6: {rounds} rounds of {per_round} approvals published at once (one pipeline); "
        f"approval decided -> deploy command started: p50 {1000 * quantile(samples, 0.5):.1f} "
        f"ms, p99 {1000 * quantile(samples, 0.99):.1f} ms, max {1000 * max(samples):.1f} ms "
        "(ApprovalDecided.at to the start the command records with date +%s.%N; includes "
        "the script's own start: /bin/sh and date)",
    ]
