"""Scheduled threads' ids must ride in an approval email's reply token."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.config.config import Schedule
from bot.shell.loop.scheduler import _thread_id, due_times, to_run
from channels.email.token import sign_token, verify_token

AT = datetime(2026, 11, 2, 9, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("promote", "cron-promote-20261102t090030"),
        ("n" * 40, None),  # too long to read: a digest of the name instead
    ],
)
def test_scheduled_thread_ids_fit_in_an_email_reply_token(name: str, expected: str | None) -> None:
    schedule = Schedule(name=name, cron="* * * * *", instruction="deploy backend to staging")
    thread_id = _thread_id(schedule, AT)
    if expected is not None:
        assert thread_id == expected
    assert len(thread_id) <= 40
    assert thread_id == thread_id.lower()
    assert _thread_id(schedule, AT) == thread_id  # deterministic: one thread per time
    assert _thread_id(schedule, AT + timedelta(seconds=1)) != thread_id
    token = sign_token(
        secret=b"k",
        thread_id=thread_id,
        plan_hash="ab" * 32,
        address="alice@example.com",
        expires_at=AT + timedelta(hours=1),
    )
    claim = verify_token(token, secret=b"k", address="alice@example.com", now=AT)
    assert claim.thread_id == thread_id


def test_long_names_that_differ_get_different_ids() -> None:
    one = Schedule(name="a" * 40, cron="* * * * *", instruction="deploy backend to staging")
    two = Schedule(name="a" * 39 + "b", cron="* * * * *", instruction="deploy backend to staging")
    assert _thread_id(one, AT) != _thread_id(two, AT)


def test_after_a_very_long_outage_run_once_still_runs_one_missed_time() -> None:
    """1500 every-second times missed: one tick sees the newest ones and runs exactly one."""
    schedule = Schedule(
        name="tick", cron="* * * * * *", instruction="deploy backend to staging", missed="run_once"
    )
    start = datetime(2026, 11, 2, 0, 0, 0, tzinfo=UTC)
    now = start + timedelta(seconds=1500)
    times = due_times(schedule, after=start, until=now)
    assert len(times) == 1000
    assert times == sorted(times)
    assert times[-1] == now  # the newest, so the clock's "last" moves to now in one tick
    assert to_run(schedule, times, now=now) == [now - timedelta(seconds=1), now]
    assert due_times(schedule, after=now, until=now) == []  # nothing left for the next tick


def test_due_times_are_the_times_after_and_up_to() -> None:
    schedule = Schedule(name="daily", cron="0 9 * * *", instruction="deploy backend to staging")
    after = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # exactly a scheduled time: excluded
    until = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)  # exactly one: included
    assert due_times(schedule, after=after, until=until) == [
        datetime(2026, 11, 3, 9, 0, tzinfo=UTC),
        until,
    ]
