"""End to end: ``deploybot clock`` processes on real Redis with schedules due every few
seconds (a sixth cron field: seconds), and a ``deploybot worker`` that turns each started run
into a thread.

Two clocks make exactly one thread per scheduled time; a clock stopped (SIGTERM, then
SIGKILL) across scheduled times handles the missed ones by the schedule's ``missed`` policy.
What the clocks did is read back from Redis (the inbound stream, the ``last`` keys, the
thread store), never assumed from the wall clock.
"""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import pytest
from redis.asyncio import Redis

from bot.config import Schedule
from bot.events import CronFired
from bot.inbound import Envelope
from bot.keys import Keys, stream_entries, text
from bot.scheduler import due_times
from bot.store import ThreadStore
from bot.thread import Thread
from tests.conftest import TEST_REDIS_URL
from tests.support import calls, stop_processes, write_setup

pytestmark = pytest.mark.e2e

INSTRUCTION = "deploy backend to staging"

Procs = list[subprocess.Popen[bytes]]


# -- processes ------------------------------------------------------------------------------


def with_schedules(config: Path, schedules: Sequence[Schedule]) -> Path:
    for s in schedules:
        config.write_text(
            config.read_text()
            + f"""
[[schedules]]
name = "{s.name}"
cron = "{s.cron}"
instruction = "{s.instruction}"
missed = "{s.missed}"
"""
        )
    return config


def environment(config: Path, key_prefix: str) -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DEPLOYBOT_", "ANTHROPIC_", "REDIS_", "SMTP_", "IMAP_"))
    }
    return inherited | {
        "REDIS_URL": TEST_REDIS_URL,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": key_prefix,
    }


def deploybot(command: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot", command], env=env, cwd=cwd)


async def until(
    check: Callable[[], Awaitable[bool]], what: str, *, alive: Procs, timeout_s: float = 20
) -> None:
    """Poll ``check``; fail if it stays false or one of the ``alive`` processes exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in alive:
            assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


# -- what the clocks did, read back from Redis ----------------------------------------------


class Run(NamedTuple):
    """One run a clock published on the inbound stream."""

    entry_id: str
    published_ms: int  # the stream entry's time (the Redis server's clock)
    schedule: str
    at: datetime  # the scheduled time
    thread_id: str


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


async def published(redis: Redis, keys: Keys) -> list[Run]:
    runs = []
    for entry_id, fields in stream_entries(await redis.xrange(keys.inbound(), "-", "+")):
        envelope = Envelope.model_validate_json(fields[b"e"])
        if isinstance(envelope.event, CronFired):
            runs.append(
                Run(
                    entry_id=entry_id,
                    published_ms=entry_key(entry_id)[0],
                    schedule=envelope.event.schedule,
                    at=envelope.event.at,
                    thread_id=envelope.thread_id,
                )
            )
    return runs


async def newest_entry(redis: Redis, keys: Keys) -> str:
    newest = stream_entries(await redis.xrevrange(keys.inbound(), "+", "-", count=1))
    return newest[0][0] if newest else "0-0"


async def cron_last(redis: Redis, keys: Keys, schedule: str) -> datetime | None:
    raw = await redis.get(keys.cron_last(schedule))
    return None if raw is None else datetime.fromisoformat(text(raw))


async def server_offset_s(redis: Redis) -> float:
    """The Redis server's clock minus this machine's (stream entry ids carry the former)."""
    before = time.time()
    seconds, micros = await redis.time()
    after = time.time()
    return seconds + micros / 1e6 - (before + after) / 2


async def ran_and_recorded(
    redis: Redis, keys: Keys, schedules: Sequence[Schedule], *, since: str
) -> bool:
    """A clock started a run of each schedule after stream entry ``since`` and finished that
    tick: the schedules' ``last`` keys name those runs."""
    runs = [r for r in await published(redis, keys) if entry_key(r.entry_id) > entry_key(since)]
    for s in schedules:
        mine = [r.at for r in runs if r.schedule == s.name]
        if not mine or await cron_last(redis, keys, s.name) != max(mine):
            return False
    return True


async def all_done(store: ThreadStore, thread_ids: set[str]) -> bool:
    for thread_id in thread_ids:
        thread = await store.load(thread_id)
        if thread is None or thread.status != "done":
            return False
    return True


def thread_id(schedule: Schedule, at: datetime) -> str:
    return f"cron-{schedule.name}-{at:%Y%m%dT%H%M%S}"


def check_one_run_each(thread: Thread, schedule: Schedule, at: datetime) -> None:
    """A scheduled run's thread: started once (one ``cron_fired``), by the schedule, done."""
    fired = [e for e in thread.events if isinstance(e, CronFired)]
    assert [(e.schedule, e.at) for e in fired] == [(schedule.name, at)], thread.id
    assert thread.requester() == f"schedule:{schedule.name}"
    assert thread.origin.kind == "schedule"
    assert thread.status == "done", (thread.id, thread.status)


def deploys_per_thread(base: Path) -> Counter[str]:
    """Calls of the counting deploy script, by thread (the idempotency key's first part)."""
    return Counter(line.split()[4].split(":")[0] for line in calls(base))


async def stored_threads(store: ThreadStore) -> dict[str, Thread]:
    return {t.id: t async for t in store.threads_since(datetime(2000, 1, 1, tzinfo=UTC))}


# -- two clocks -----------------------------------------------------------------------------


async def test_two_clock_processes_make_one_thread_per_scheduled_time(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    period = timedelta(seconds=2)
    tick = Schedule(name="tick", cron="* * * * * */2", instruction=INSTRUCTION, missed="skip")
    config = with_schedules(write_setup(tmp_path), [tick])
    keys = Keys(key_prefix)
    store = ThreadStore(redis=redis, keys=keys)
    env = environment(config, key_prefix)
    procs = [deploybot(command, env, tmp_path) for command in ("worker", "clock", "clock")]
    try:

        async def first_tick() -> bool:
            return await cron_last(redis, keys, "tick") is not None

        await until(first_tick, "the first clock tick", alive=procs)
        # The very first tick only records "now": runs start at the scheduled times after it.
        first = await cron_last(redis, keys, "tick")

        async def four_times() -> bool:
            return len({r.at for r in await published(redis, keys)}) >= 4

        await until(four_times, "four scheduled runs", alive=procs)
        stop_processes(procs[1:])  # both clocks, SIGTERM
        stopped_at = datetime.now(UTC)
        assert [p.returncode for p in procs[1:]] == [0, 0]
        last = await cron_last(redis, keys, "tick")
        runs = await published(redis, keys)
        run_ids = {r.thread_id for r in runs}
        await until(lambda: all_done(store, run_ids), "the worker to finish", alive=procs[:1])
    finally:
        stop_processes(procs)
    assert procs[0].returncode == 0
    assert first is not None
    assert last is not None

    # Every scheduled time after the first tick up to the newest one handled was started,
    # and no other: the same times, in order, one cron period apart.
    expected = due_times(tick, after=first, until=last)
    times = sorted({r.at for r in runs})
    assert times == expected
    assert len(times) >= 4
    assert all(b - a == period for a, b in pairwise(times))
    assert stopped_at - last < period + timedelta(seconds=3)  # the clocks kept up until stopped
    assert all(r.thread_id == thread_id(tick, r.at) for r in runs)

    # Exactly one thread per scheduled time, started once, and one deploy each.
    threads = await stored_threads(store)
    assert sorted(threads) == [thread_id(tick, at) for at in expected]
    for at in expected:
        check_one_run_each(threads[thread_id(tick, at)], tick, at)
    assert deploys_per_thread(tmp_path) == Counter(threads)


# -- a clock that was down ------------------------------------------------------------------


class Outage(NamedTuple):
    sig: signal.Signals
    last: dict[str, datetime]  # each schedule's newest handled time when the clock stopped
    stream_end: str  # the inbound stream's newest entry when the clock stopped


async def test_a_clock_down_across_scheduled_times_handles_them_by_policy(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    period = timedelta(seconds=3)
    cron = "* * * * * */3"
    skip = Schedule(name="skip", cron=cron, instruction=INSTRUCTION, missed="skip")
    once = Schedule(name="once", cron=cron, instruction=INSTRUCTION, missed="run_once")
    schedules = [skip, once]
    config = with_schedules(write_setup(tmp_path), schedules)
    keys = Keys(key_prefix)
    store = ThreadStore(redis=redis, keys=keys)
    env = environment(config, key_prefix)
    offset_s = await server_offset_s(redis)
    worker = deploybot("worker", env, tmp_path)
    clock = deploybot("clock", env, tmp_path)
    procs = [worker, clock]
    outages: list[Outage] = []
    try:

        async def first_ticks() -> bool:
            return all([await cron_last(redis, keys, s.name) is not None for s in schedules])

        await until(first_ticks, "the first clock tick", alive=procs)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            since = outages[-1].stream_end if outages else "0-0"
            await until(
                partial(ran_and_recorded, redis, keys, schedules, since=since),
                f"a run of each schedule before {sig.name}",
                alive=[worker, clock],
            )
            clock.send_signal(sig)  # between two ticks: the one just seen is finished
            clock.wait(timeout=10)
            assert clock.returncode == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
            stopped = datetime.now(UTC)
            last = {s.name: await cron_last(redis, keys, s.name) for s in schedules}
            outages.append(
                Outage(
                    sig=sig,
                    last={name: at for name, at in last.items() if at is not None},
                    stream_end=await newest_entry(redis, keys),
                )
            )
            # Down across two scheduled times; started again just before a third, so that
            # third one is due by the time the new process first ticks.
            third = due_times(skip, after=stopped, until=stopped + 4 * period)[2]
            await sleep_until(third - timedelta(seconds=0.3))
            clock = deploybot("clock", env, tmp_path)
            procs.append(clock)

        async def ran_again() -> bool:
            key = entry_key(outages[-1].stream_end)
            runs = [r for r in await published(redis, keys) if entry_key(r.entry_id) > key]
            return {r.schedule for r in runs} == {s.name for s in schedules}

        await until(ran_again, "a run of each schedule after the last restart", alive=[worker, clock])
        stop_processes([clock])
        assert clock.returncode == 0
        runs = await published(redis, keys)
        run_ids = {r.thread_id for r in runs}
        await until(lambda: all_done(store, run_ids), "the worker to finish", alive=[worker])
    finally:
        stop_processes(procs)
    assert worker.returncode == 0
    assert [o.sig for o in outages] == [signal.SIGTERM, signal.SIGKILL]

    threads = await stored_threads(store)
    ends = [entry_key(o.stream_end) for o in outages] + [(2**63, 0)]
    for n, outage in enumerate(outages):
        # The runs the restarted clock published before the next stop; they all came from
        # its first tick, the one that found the missed times.
        after = [r for r in runs if ends[n] < entry_key(r.entry_id) <= ends[n + 1]]
        assert after, f"no run after the restart that followed {outage.sig.name}"
        first_tick_at = datetime.fromtimestamp(
            min(r.published_ms for r in after) / 1000, UTC
        ) - timedelta(seconds=offset_s)
        # The time due "now" at that tick: the newest scheduled time before it.
        due_now = due_times(skip, after=first_tick_at - period, until=first_tick_at)[-1]
        for s in schedules:
            assert set(outage.last) == {x.name for x in schedules}
            missed = due_times(s, after=outage.last[s.name], until=due_now)[:-1]
            assert len(missed) >= 2, (outage.sig.name, s.name, missed)
            started = sorted(r.at for r in after if r.schedule == s.name)
            # Scheduled times that have a thread at all, among the missed ones.
            made = sorted(at for at in missed if thread_id(s, at) in threads)
            if s.missed == "skip":
                assert started == [due_now], (outage.sig.name, s.name, started, missed)
                assert made == [], (outage.sig.name, s.name, made)
            else:  # run_once: the newest missed time, once, then the one due now
                assert started == [missed[-1], due_now], (outage.sig.name, s.name, started)
                assert made == [missed[-1]], (outage.sig.name, s.name, made)

    # Whatever ran ran once: one publish, one thread, one deploy per scheduled time, and for
    # each schedule the times are whole cron periods apart.
    assert Counter(r.thread_id for r in runs).most_common(1)[0][1] == 1
    assert sorted(threads) == sorted({r.thread_id for r in runs})
    for r in runs:
        schedule = skip if r.schedule == "skip" else once
        assert r.thread_id == thread_id(schedule, r.at)
        check_one_run_each(threads[r.thread_id], schedule, r.at)
    for s in schedules:
        times = sorted(r.at for r in runs if r.schedule == s.name)
        assert all((b - a) % period == timedelta(0) for a, b in pairwise(times))
    assert deploys_per_thread(tmp_path) == Counter(threads)
