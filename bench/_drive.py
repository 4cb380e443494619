"""Driving deploybot from outside, as the channels do: envelopes on the inbound stream, waits,
checks of the threads' states, and the Redis state a steady installation has.

``steady_state`` writes the two things an installation that has been running for a while
already has: its *intact mark* made long ago (bot/shell/lock/dataloss.py; otherwise a fresh
prefix means a fresh mark, and no deploy lock is granted for a lock lease + 2 s: a new
installation's quiet period, by design) and every service's tags in the tags cache (one
``git ls-remote`` per service otherwise, cached after the first launch in production).
"""

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from _common import BenchError, bounded, quantile
from pydantic import TypeAdapter
from redis.asyncio import Redis

from bot.core.thread.events import ApprovalDecided, DeployFinished, DeployStarted, UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Tag
from bot.core.thread.thread import Thread
from bot.shell.lock.dataloss import Mark, quiet_period_ms
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import Envelope
from bot.shell.streams.outbox import Outbox
from bot.shell.world.tags import list_tags

__all__ = [
    "approve",
    "check_deploys",
    "check_status",
    "latencies",
    "launch",
    "load_all",
    "steady_state",
    "wait_for",
    "wait_inbound",
    "wait_outbox",
]

_TAG_LIST = TypeAdapter(list[Tag])
POLL_S = 0.005
#: How much older than the quiet period the intact mark is made.
MARK_AGE_MS = 60_000


def _now() -> datetime:
    return datetime.now(UTC)


def _event_id() -> str:
    return secrets.token_hex(6)


def launch(tid: str, service: str) -> Envelope:
    text = f"please ship {service} to production"
    return Envelope(
        thread_id=tid,
        origin=ApiOrigin(),
        agent="deploy",
        event=UserMessage(id=_event_id(), at=_now(), actor="api:carol", text=text),
    )


def approve(tid: str) -> Envelope:
    return Envelope(
        thread_id=tid,
        event=UserMessage(id=_event_id(), at=_now(), actor="api:alice", text="approve"),
    )


async def steady_state(
    redis: "Redis",
    *,
    keys: Keys,
    lock_ttl_ms: int,
    repo: Path,
    services: list[str],
    new_installation: bool = False,
) -> list[str]:
    """Write an old intact mark (not with ``new_installation``: the worker makes a new one)
    and every service's tags; the notes that say so."""
    tags = await list_tags(str(repo), limit=20)
    pipe = redis.pipeline(transaction=False)
    for service in services:
        pipe.set(keys.tags_cache(service), _TAG_LIST.dump_json(tags), px=600_000)
    await pipe.execute()
    if new_installation:
        return [
            "a NEW installation (--new-installation): the worker makes the intact mark, so no "
            "deploy lock is granted for a lock lease + 2 s after its start; tags cache "
            "pre-filled for every service"
        ]
    seconds, micros = await redis.time()
    now_ms = int(seconds) * 1000 + int(micros) // 1000
    run_id = str((await redis.info("server"))["run_id"])
    made_ms = now_ms - quiet_period_ms(lock_ttl_ms) - MARK_AGE_MS
    mark = Mark(id=secrets.token_hex(6), made_ms=made_ms, run_id=run_id)
    await redis.set(keys.intact(), mark.stored())
    return [
        "steady state: the intact mark written before the worker starts as an older "
        f"installation has it (made {(now_ms - made_ms) / 1000:.0f} s ago by this Redis, "
        "run_id from INFO server), so no new installation's quiet period (a lock lease + 2 s "
        "without deploy locks) is measured; tags cache pre-filled for every service",
    ]


async def wait_for(check: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str) -> None:
    deadline = time.perf_counter() + timeout_s
    while not await check():
        if time.perf_counter() > deadline:
            raise BenchError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(POLL_S)


async def wait_inbound(redis: "Redis", *, keys: Keys, timeout_s: float, what: str) -> None:
    """Until the inbound stream is empty: every envelope published so far handled."""

    async def empty() -> bool:
        return int(await redis.xlen(keys.inbound())) == 0

    await wait_for(empty, timeout_s=timeout_s, what=what)


async def wait_outbox(outbox: Outbox, *, timeout_s: float) -> None:
    """Until the API channel's outbox has nothing pending: every reply delivered."""

    async def empty() -> bool:
        return await outbox.pending("api") == 0

    await wait_for(empty, timeout_s=timeout_s, what="the outbox to drain")


async def load_all(store: ThreadStore, ids: list[str]) -> list[Thread]:
    threads = await bounded((store.load(i) for i in ids), limit=64)
    missing = [i for i, t in zip(ids, threads, strict=True) if t is None]
    if missing:
        raise BenchError(f"{len(missing)} threads missing, e.g. {missing[:3]}")
    return [t for t in threads if t is not None]


def check_status(threads: list[Thread], expected: str, phase: str) -> None:
    statuses = Counter(t.status for t in threads)
    if statuses != Counter({expected: len(threads)}):
        bad = next(t for t in threads if t.status != expected)
        tail = [e.type for e in bad.events[-6:]]
        raise BenchError(
            f"after {phase}: statuses {dict(statuses)}, expected all {expected!r}; "
            f"e.g. thread {bad.id} ends with {tail}"
        )


def check_deploys(threads: list[Thread], deploy_log: Path | None) -> str:
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


def _quantiles(values: list[float]) -> str:
    return (
        f"median {1000 * quantile(values, 0.5):.0f} ms, p95 {1000 * quantile(values, 0.95):.0f} "
        f"ms, max {1000 * max(values):.0f} ms"
    )


def latencies(threads: list[Thread]) -> tuple[float, str]:
    """How long each approval took inside the worker, from the events' own timestamps: the
    p95 of approval_decided -> deploy_finished (s) and a note."""
    runs = [e.duration_s for t in threads for e in t.events if isinstance(e, DeployFinished)]
    spans = []
    for thread in threads:
        decided = next(e.at for e in thread.events if isinstance(e, ApprovalDecided))
        finished = next(e.at for e in thread.events if isinstance(e, DeployFinished))
        spans.append((finished - decided).total_seconds())
    return quantile(spans, 0.95), (
        f"deploy command (DeployFinished.duration_s): {_quantiles(runs)}; approval_decided "
        f"-> deploy_finished: {_quantiles(spans)}"
    )
