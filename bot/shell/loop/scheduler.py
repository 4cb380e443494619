"""Schedules from the config (``[[schedules]]``): cron runs that start ordinary threads.

Each scheduled time becomes one thread with a deterministic id (``cron-<name>-<time>``) and
one ``cron_fired`` event with a deterministic id, so any number of clock processes may
publish the same run and the worker keeps exactly one. A claim key per (schedule, time),
set after publishing, keeps later ticks from publishing it again (two clocks ticking at
the same instant may both publish; the worker drops the second). Times missed while no
clock ran follow the schedule's ``missed`` policy: ``skip`` them, or ``run_once`` (the
newest missed time).
"""

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from redis.asyncio import Redis

from bot.core.config.config import Schedule
from bot.core.thread.events import CronFired
from bot.core.thread.origin import ScheduleOrigin
from bot.shell.runtime.tasks import TaskHandle
from bot.shell.store.keys import text
from bot.shell.store.redis_faults import TRANSIENT, pause
from bot.shell.streams.inbound import Envelope, agent_for
from bot.shell.world.context import Context

__all__ = ["Scheduler", "due_times"]

log = logging.getLogger("deploybot.scheduler")

ON_TIME_S = 60  # the newest due time, this recent, is "due now", not "missed"
_MAX_CATCH_UP = 1000  # never walk more cron times than this in one tick


def due_times(schedule: Schedule, *, after: datetime, until: datetime) -> list[datetime]:
    """Scheduled times in ``(after, until]``, oldest first, in UTC (pure).

    Walked back from ``until``: after a very long outage only the newest ``_MAX_CATCH_UP``
    are returned, which is all a policy needs (the newest missed time and the one due now).
    """
    zone = ZoneInfo(schedule.timezone)
    # croniter's get_prev is strictly before its start: start just after ``until``.
    it = croniter(schedule.cron, (until + timedelta(microseconds=1)).astimezone(zone))
    times: list[datetime] = []
    for _ in range(_MAX_CATCH_UP):
        at = it.get_prev(datetime).astimezone(UTC)
        if at <= after:
            break
        times.append(at)
    return times[::-1]


def to_run(schedule: Schedule, times: list[datetime], *, now: datetime) -> list[datetime]:
    """Which of the due times run: the on-time one always, missed ones by the policy (pure).

    Only the newest due time can be on time (if at most ``ON_TIME_S`` old): an older one
    was missed, since the time after it came due before any clock handled it. (Judged by
    age alone, a schedule due every few seconds could never miss a time.)"""
    newest = times[-1:]
    on_time = [t for t in newest if now - t <= timedelta(seconds=ON_TIME_S)]
    missed = times[: len(times) - len(on_time)]
    if missed and schedule.missed == "run_once":
        return [missed[-1], *on_time]
    return on_time


class Scheduler:
    def __init__(self, *, context: Context, redis: "Redis") -> None:
        """``redis``: the client the schedules' own keys (last run, run claims) live in."""
        self._redis = redis
        self._keys = context.keys
        self._queue = context.queue
        self._config = context.config
        self._clock = context.clock.now

    async def tick(self) -> list[str]:
        """Start every run due now; returns the thread ids this call published."""
        now = self._clock()
        started: list[str] = []
        for schedule in self._config.schedules:
            last_key = self._keys.cron_last(schedule.name)
            raw = await self._redis.get(last_key)
            if raw is None:  # first clock ever: start from now, no history to replay
                await self._redis.set(last_key, now.isoformat(), nx=True)
                continue
            last = datetime.fromisoformat(text(raw))
            times = due_times(schedule, after=last, until=now)
            for at in to_run(schedule, times, now=now):
                if await self._start(schedule, at):
                    started.append(_thread_id(schedule, at))
            if times:
                await self._redis.set(last_key, max(times).isoformat())
        return started

    async def _start(self, schedule: Schedule, at: datetime) -> bool:
        claim = self._keys.cron_run(schedule.name, at.strftime("%Y%m%dT%H%M%S"))
        if await self._redis.exists(claim):
            return False
        thread_id = _thread_id(schedule, at)
        event = CronFired(
            id=f"{thread_id}-fired",
            at=at,
            schedule=schedule.name,
            instruction=schedule.instruction,
        )
        origin = ScheduleOrigin(name=schedule.name, report_to=schedule.report_to)
        await self._queue.publish(
            Envelope(
                thread_id=thread_id,
                event=event,
                origin=origin,
                agent=agent_for(schedule.instruction),
            )
        )
        # Claimed after publishing: a crash in between publishes twice, which the worker
        # drops (same thread, same event id); the other order could lose the run.
        return bool(await self._redis.set(claim, "1", nx=True, ex=30 * 86400))

    async def run(
        self, *, stop: asyncio.Event, interval_s: float = 1.0, health: TaskHandle | None = None
    ) -> None:
        """Tick every ``interval_s`` until ``stop``. Redis away is ridden out; any other
        failure raises, for the task registry to record."""
        health = health or TaskHandle("scheduler")
        while not stop.is_set():
            try:
                for thread_id in await self.tick():
                    log.info("started scheduled run %s", thread_id)
            except TRANSIENT as exc:
                health.recovering(f"redis unavailable ({type(exc).__name__}: {exc})")
            else:
                health.recovered()
            await pause(stop, interval_s)


_THREAD_ID_MAX = 40  # thread ids ride in email reply tokens (channels/email/token.py)


def _thread_id(schedule: Schedule, at: datetime) -> str:
    """``cron-<name>-<utc time>``: lower-case and short, so an approval email's reply
    address can carry it; a long name is replaced by a digest of it."""
    stamp = f"{at.astimezone(UTC):%Y%m%dt%H%M%S}"
    readable = f"cron-{schedule.name}-{stamp}"
    if len(readable) <= _THREAD_ID_MAX:
        return readable
    return f"cron-{hashlib.sha256(schedule.name.encode()).hexdigest()[:10]}-{stamp}"
