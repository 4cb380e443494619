"""Approval reminders and expiry: durable timers, an injected clock, a restart in between."""

from pathlib import Path

from redis.asyncio import Redis

from tests.support import Clock, calls, make_app, say, texts, thread_of, write_setup


async def test_reminder_then_expiry_survive_a_restart(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path, approval_timeout_s=1200)  # reminder 600 s before expiry
    clock = Clock()
    first = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    await say(first, "t1", "slack:U0CAROL", "deploy backend to production", new=True)
    await say(first, "t2", "slack:U0CAROL", "deploy frontend to production", new=True)
    await first.worker.run_until_idle()
    assert await first.timers.pending() == 4  # a reminder and an expiry per request

    await say(first, "t2", "slack:U0BOB", "approve")  # t2 is decided before its timers
    await first.worker.run_until_idle()
    assert (await thread_of(first, "t2")).status == "done"
    assert await first.timers.pending() == 2  # t2's were cancelled when its deploy started
    assert await first.timers.waiting_approvals() == 1

    # Every process restarts; time moves on. A new worker picks the timers up from Redis.
    clock.advance(601)
    second = make_app(redis, prefix=key_prefix, config_file=config, clock=clock, consumer="w2")
    await second.worker.run_until_idle()
    t1 = await thread_of(second, "t1")
    assert texts(t1)[-1].startswith("Reminder: plan #")
    assert (
        "is waiting for approval from alice, bob, dave; it expires at 09:20 UTC." in (texts(t1)[-1])
    )
    assert t1.status == "awaiting_approval"

    clock.advance(600)
    await second.worker.run_until_idle()
    t1 = await thread_of(second, "t1")
    assert texts(t1)[-1].endswith(
        "expired at 09:20 UTC without enough approvals. Nothing was deployed; ask again if it "
        "is still wanted."
    )
    assert t1.status == "done"
    assert t1.events[-1].replaces is not None  # type: ignore[union-attr]  # edits the request
    t2 = await thread_of(second, "t2")
    assert not any(e.type == "timer_fired" for e in t2.events)
    assert t2.status == "done"
    assert await second.timers.pending() == 0

    await say(second, "t1", "slack:U0BOB", "approve")
    await second.worker.run_until_idle()
    assert texts(await thread_of(second, "t1"))[-1] == (
        "Nothing in this thread is waiting for approval."
    )
    assert len(calls(tmp_path)) == 1  # only t2's deploy


async def test_a_timer_published_twice_acts_once(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path, approval_timeout_s=60)
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to production", new=True)
    await app.worker.run_until_idle()
    due = await redis.zrange(f"{key_prefix}:timers", 0, -1, withscores=True)
    clock.advance(61)
    assert await app.timers.fire_due(now=clock()) == 1
    await redis.zadd(f"{key_prefix}:timers", dict(due))  # as if a second pump raced the first
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert sum(t.startswith("Plan #") and "expired" in t for t in texts(thread)) == 1
    assert sum(e.type == "timer_fired" for e in thread.events) == 1
