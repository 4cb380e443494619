"""End to end: ``deploybot clock`` processes on real Redis with schedules due every few
seconds (a sixth cron field: seconds), and a ``deploybot worker`` that turns each started run
into a thread.

Two clocks make exactly one thread per scheduled time; a clock stopped (SIGTERM, then
SIGKILL) across scheduled times handles the missed ones by the schedule's ``missed`` policy.
What happened is read back from Redis (the threads and their ``cron_fired`` events, the
schedules' ``last`` keys, the run claims), not assumed from the wall clock.
"""

import asyncio
import signal
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import pytest
from redis.asyncio import Redis

from bot.core.config.config import Schedule
from bot.core.thread.events import CronFired, DeployStarted, QueueLeft
from bot.core.thread.thread import Thread
from bot.shell.loop.scheduler import due_times
from bot.shell.store.keys import Keys, text
from bot.shell.store.threads import ThreadStore
from tests.conftest import TEST_REDIS_URL
from tests.harness import Processes, bot_env, schedule_toml, until
from tests.support import calls, stop_processes, write_setup

pytestmark = pytest.mark.e2e

INSTRUCTION = "deploy backend to staging"

Proc = subprocess.Popen[bytes]


# -- processes ------------------------------------------------------------------------------


def with_schedules(config: Path, schedules: Sequence[Schedule]) -> Path:
    for s in schedules:
        tables = schedule_toml(s.name, s.cron, s.instruction, missed=s.missed)
        config.write_text(config.read_text() + tables)
    return config


def environment(config: Path, key_prefix: str) -> dict[str, str]:
    return bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
        }
    )


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


# -- what happened, read back from Redis ----------------------------------------------------


class Run(NamedTuple):
    """One scheduled time of one schedule, as a thread's ``cron_fired`` event names it."""

    schedule: str
    at: datetime


async def runs(store: ThreadStore) -> dict[Run, list[Thread]]:
    """Every thread a scheduled run made, by the run (a thread per ``cron_fired`` event)."""
    found: dict[Run, list[Thread]] = {}
    async for thread in store.threads_since(datetime(2000, 1, 1, tzinfo=UTC)):
        for event in thread.events:
            if isinstance(event, CronFired):
                found.setdefault(Run(event.schedule, event.at), []).append(thread)
    return found


def times(found: dict[Run, list[Thread]], schedule: Schedule) -> list[datetime]:
    return sorted(run.at for run in found if run.schedule == schedule.name)


async def cron_last(redis: Redis, keys: Keys, schedule: Schedule) -> datetime | None:
    """The newest scheduled time the clocks have handled (the first tick ever: its "now")."""
    raw = await redis.get(keys.cron_last(schedule.name))
    return None if raw is None else datetime.fromisoformat(text(raw))


async def handled(redis: Redis, keys: Keys, schedules: Sequence[Schedule]) -> dict[str, datetime]:
    last = {s.name: await cron_last(redis, keys, s) for s in schedules}
    return {name: at for name, at in last.items() if at is not None}


async def claims(redis: Redis, keys: Keys, schedule: Schedule) -> int:
    """How many scheduled times of the schedule the clocks have claimed (one per start)."""
    pattern = keys.cron_run(schedule.name, "*")
    return len([key async for key in redis.scan_iter(match=pattern, count=1000)])


async def ran_and_recorded(
    redis: Redis,
    keys: Keys,
    store: ThreadStore,
    schedules: Sequence[Schedule],
    *,
    since: dict[str, datetime],
) -> bool:
    """A clock started a run of each schedule after ``since`` and finished that tick: each
    schedule's ``last`` key names its newest run."""
    found = await runs(store)
    for s in schedules:
        new = [at for at in times(found, s) if at > since[s.name]]
        if not new or await cron_last(redis, keys, s) != new[-1]:
            return False
    return True


async def until_done(
    redis: Redis, keys: Keys, store: ThreadStore, schedules: Sequence[Schedule], worker: Proc
) -> dict[Run, list[Thread]]:
    """Once the clocks are stopped: wait for the worker to make and finish a thread for every
    claimed run; returns the runs."""
    found: dict[Run, list[Thread]] = {}

    async def done() -> bool:
        nonlocal found
        found = await runs(store)
        for s in schedules:
            if len(times(found, s)) != await claims(redis, keys, s):
                return False
        return all(t.status == "done" for threads in found.values() for t in threads)

    await until(done, "the worker to finish every claimed run", alive=[worker])
    return found


def check_one_thread_each(found: dict[Run, list[Thread]], base: Path) -> None:
    """Each run made exactly one thread, started once (one ``cron_fired``) by its schedule,
    finished, with exactly one call of the deploy script; or, waiting in the pair's line
    behind another run's deploy of the same commit, superseded by a newer one (issue 19.3):
    never both, never neither."""
    deploys = calls(base)
    assert found
    ran = 0
    for run, threads in found.items():
        assert len(threads) == 1, (run, [t.id for t in threads])
        thread = threads[0]
        fired = [e for e in thread.events if isinstance(e, CronFired)]
        assert [(e.schedule, e.at) for e in fired] == [run], thread.id
        assert thread.requester() == f"schedule:{run.schedule}"
        assert thread.origin.kind == "schedule"
        assert thread.status == "done", (thread.id, thread.status)
        started = [e.idempotency_key for e in thread.events if isinstance(e, DeployStarted)]
        superseded = [e for e in thread.events if isinstance(e, QueueLeft)]
        assert len(started) + len(superseded) == 1, thread.id
        if started:
            ran += 1
            assert len([line for line in deploys if line.endswith(f" {started[0]}")]) == 1
    assert len(deploys) == ran


# -- two clocks -----------------------------------------------------------------------------


async def test_two_clock_processes_make_one_thread_per_scheduled_time(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    period = timedelta(seconds=2)
    tick = Schedule(name="tick", cron="* * * * * */2", instruction=INSTRUCTION, missed="skip")
    config = with_schedules(write_setup(tmp_path), [tick])
    keys = Keys(key_prefix)
    store = ThreadStore(redis=redis, keys=keys)
    with Processes(environment(config, key_prefix), tmp_path, logs=False) as running:
        procs = [running.start(command) for command in ("worker", "clock", "clock")]

        async def first_tick() -> bool:
            return await cron_last(redis, keys, tick) is not None

        await until(first_tick, "the first clock tick", alive=procs)
        # The very first tick only records "now": runs start at the scheduled times after it.
        first = await cron_last(redis, keys, tick)

        async def four_runs() -> bool:
            return len(times(await runs(store), tick)) >= 4

        await until(four_runs, "four scheduled runs", alive=procs)
        stop_processes(procs[1:])  # both clocks, SIGTERM
        stopped_at = datetime.now(UTC)
        assert [p.returncode for p in procs[1:]] == [0, 0]
        last = await cron_last(redis, keys, tick)
        found = await until_done(redis, keys, store, [tick], procs[0])
    assert procs[0].returncode == 0
    assert first is not None
    assert last is not None

    # Every scheduled time after the first tick up to the newest one handled was started,
    # and no other: one cron period apart, none left out.
    started = times(found, tick)
    assert started == due_times(tick, after=first, until=last)
    assert len(started) >= 4
    assert all(b - a == period for a, b in pairwise(started))
    assert stopped_at - last < period + timedelta(seconds=3)  # the clocks kept up until stopped
    # Each of them exactly once.
    check_one_thread_each(found, tmp_path)


# -- a clock that was down ------------------------------------------------------------------


class Outage(NamedTuple):
    sig: signal.Signals
    last: dict[str, datetime]  # each schedule's newest handled time when the clock stopped


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
    outages: list[Outage] = []
    with Processes(environment(config, key_prefix), tmp_path, logs=False) as procs:
        worker = procs.start("worker")
        clock = procs.start("clock")

        async def first_ticks() -> bool:
            return len(await handled(redis, keys, schedules)) == len(schedules)

        await until(first_ticks, "the first clock tick", alive=procs.procs)
        since = await handled(redis, keys, schedules)  # the first tick's "now"
        for sig in (signal.SIGTERM, signal.SIGKILL):
            await until(
                partial(ran_and_recorded, redis, keys, store, schedules, since=since),
                f"a run of each schedule before {sig.name}",
                alive=[worker, clock],
            )
            clock.send_signal(sig)  # between two ticks: the one just seen is finished
            clock.wait(timeout=10)
            assert clock.returncode == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
            stopped = datetime.now(UTC)
            since = await handled(redis, keys, schedules)
            outages.append(Outage(sig=sig, last=since))
            # Down across two scheduled times; started again just before a third, so that
            # third one is due by the time the new process first ticks.
            third = due_times(skip, after=stopped, until=stopped + 4 * period)[2]
            await sleep_until(third - timedelta(seconds=0.3))
            clock = procs.start("clock")
        await until(
            partial(ran_and_recorded, redis, keys, store, schedules, since=since),
            "a run of each schedule after the last restart",
            alive=[worker, clock],
        )
        stop_processes([clock])
        assert clock.returncode == 0
        found = await until_done(redis, keys, store, schedules, worker)
    assert worker.returncode == 0
    assert [o.sig for o in outages] == [signal.SIGTERM, signal.SIGKILL]
    assert all(set(o.last) == {s.name for s in schedules} for o in outages)

    for n, outage in enumerate(outages):
        # What the restarted clock started before it was stopped again: its first tick.
        end = outages[n + 1].last if n + 1 < len(outages) else {}
        after_restart = {
            s.name: [
                at
                for at in times(found, s)
                if outage.last[s.name] < at and (s.name not in end or at <= end[s.name])
            ]
            for s in schedules
        }
        # When that tick ran (its threads were made at once), so the time due "now" then.
        first_tick_at = min(
            found[Run(s.name, at)][0].created_at for s in schedules for at in after_restart[s.name]
        )
        due_now = due_times(skip, after=first_tick_at - period, until=first_tick_at)[-1]
        for s in schedules:
            what = (outage.sig.name, s.name)
            missed = due_times(s, after=outage.last[s.name], until=due_now)[:-1]
            assert len(missed) >= 2, (*what, missed)  # down across at least two times
            started = after_restart[s.name]
            assert started, what
            made = [at for at in missed if Run(s.name, at) in found]
            on_time = due_times(s, after=due_now - period, until=started[-1])
            if s.missed == "skip":  # none of the missed times, then the one due now
                assert made == [], (*what, made)
                assert started == on_time, (*what, started, due_now)
            else:  # run_once: the newest missed time once, then the one due now
                assert made == [missed[-1]], (*what, made, missed)
                assert started == [missed[-1], *on_time], (*what, started, due_now)

    # Whatever was started made exactly one thread, started once, with one deploy.
    for s in schedules:
        assert times(found, s)
    check_one_thread_each(found, tmp_path)
