"""Schedules: one thread per scheduled time however many clocks run; missed times by policy."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.core.config.config import Schedule
from bot.core.thread.events import DeployFinished, QueueLeft
from bot.shell.loop.scheduler import due_times, to_run
from tests.support import Clock, calls, make_app, thread_of, write_setup

EVERY_MINUTE = Schedule(name="tick", cron="* * * * *", instruction="deploy backend to staging")


def utc(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 2, hour, minute, second, tzinfo=UTC)


def test_due_times_follow_the_schedules_time_zone() -> None:
    weekday_nine = Schedule(
        name="w",
        cron="0 9 * * 1-5",
        timezone="Europe/Berlin",
        instruction="deploy backend to staging",
    )
    # Monday 2 November 2026: 09:00 in Berlin is 08:00 UTC.
    assert due_times(weekday_nine, after=utc(0, 0), until=utc(23, 0)) == [utc(8, 0)]
    assert due_times(EVERY_MINUTE, after=utc(9, 0), until=utc(9, 3)) == [
        utc(9, 1),
        utc(9, 2),
        utc(9, 3),
    ]


@pytest.mark.parametrize(
    ("missed", "expected"),
    [
        ("skip", [utc(9, 10)]),
        ("run_once", [utc(9, 9), utc(9, 10)]),
    ],
)
def test_missed_times_follow_the_policy(missed: str, expected: list[datetime]) -> None:
    schedule = EVERY_MINUTE.model_copy(update={"missed": missed})
    times = due_times(schedule, after=utc(9, 0), until=utc(9, 10, 30))
    assert len(times) == 10
    assert to_run(schedule, times, now=utc(9, 10, 30)) == expected


def with_schedule(config: Path, *, missed: str = "skip") -> Path:
    config.write_text(
        config.read_text()
        + f"""
[[schedules]]
name = "tick"
cron = "* * * * *"
instruction = "deploy backend to staging"
missed = "{missed}"
"""
    )
    return config


async def test_two_clocks_start_each_scheduled_time_once(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = with_schedule(write_setup(tmp_path))
    clock = Clock(utc(9, 0, 30))
    one = make_app(redis, prefix=key_prefix, config_file=config, clock=clock, consumer="c1")
    two = make_app(redis, prefix=key_prefix, config_file=config, clock=clock, consumer="c2")
    await one.scheduler.tick()  # the first clock ever starts from now
    started: list[str] = []
    for _ in range(5):
        clock.advance(60)
        a, b = await asyncio.gather(one.scheduler.tick(), two.scheduler.tick())
        started += a + b
    await one.worker.run_until_idle()
    expected = [f"cron-tick-20261102t09{m:02d}00" for m in range(1, 6)]
    assert sorted(started) == expected  # each time published by exactly one clock
    ran = superseded = 0
    for thread_id in expected:
        thread = await thread_of(one, thread_id)
        assert thread.status == "done"
        assert thread.requester() == "schedule:tick"
        ran += sum(1 for e in thread.events if isinstance(e, DeployFinished))
        superseded += sum(1 for e in thread.events if isinstance(e, QueueLeft))
    # Each run deployed, or, waiting in line behind another for the same commit, was
    # superseded by the newer one (issue 19.3): never both, never neither.
    assert ran + superseded == 5
    assert len(calls(tmp_path)) == ran


@pytest.mark.parametrize(("missed", "runs"), [("skip", 1), ("run_once", 2)])
async def test_a_clock_that_was_down_handles_missed_times_by_policy(
    redis: Redis, key_prefix: str, tmp_path: Path, missed: str, runs: int
) -> None:
    config = with_schedule(write_setup(tmp_path), missed=missed)
    clock = Clock(utc(9, 0, 30))
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    await app.scheduler.tick()
    clock.advance(5 * 60)  # down across four scheduled times; 09:05 is due now
    started = await app.scheduler.tick()
    assert len(started) == runs
    assert started[-1] == "cron-tick-20261102t090500"
    clock.advance(5)
    assert await app.scheduler.tick() == []  # nothing twice
