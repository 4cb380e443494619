"""The task registry and the loops that report to it, on real Redis: a death is recorded
(once, with the reason), a long recovery turns health red, a poison outbox entry or a
failing channel does not stop a pump silently."""

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.origin import ApiOrigin
from bot.shell.loop.timers import Timers
from bot.shell.runtime.tasks import Dead, Recovering, Running, TaskRegistry, TaskState, health
from bot.shell.store.keys import Keys
from bot.shell.store.redis_faults import stream_gone
from bot.shell.streams.outbox import Outbox

NOW_S = 1000.0


@pytest.mark.parametrize(
    ("states", "ok", "shown"),
    [
        ({}, True, {}),
        ({"worker": Running()}, True, {"worker": "ok"}),
        (
            {"worker": Recovering(since_s=NOW_S - 5, reason="redis unavailable")},
            True,
            {"worker": "recovering for 5.0 s: redis unavailable"},
        ),
        (
            {"worker": Recovering(since_s=NOW_S - 31, reason="redis unavailable")},
            False,
            {"worker": "recovering for 31.0 s: redis unavailable"},
        ),
        (
            {"worker": Running(), "outbox:slack": Dead(reason="WRONGTYPE")},
            False,
            {"outbox:slack": "dead: WRONGTYPE", "worker": "ok"},
        ),
    ],
)
def test_health_of_states(states: dict[str, TaskState], ok: bool, shown: dict[str, str]) -> None:
    got = health(states, now_s=NOW_S, bound_s=30)
    assert (got.ok, got.tasks) == (ok, shown)


@pytest.mark.parametrize(
    ("message", "gone"),
    [
        ("NOGROUP No such key 'x' or consumer group 'workers' in XREADGROUP", True),
        ("UNBLOCKED the stream key no longer exists", True),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", False),
        ("BUSYGROUP Consumer Group name already exists", False),
        (
            "Command # 1 (XAUTOCLAIM s workers c 10 0-0 COUNT 5) of pipeline caused error: "
            "NOGROUP No such key 's' or consumer group 'workers'",
            True,
        ),
        (
            "Command # 2 (SET k v) of pipeline caused error: WRONGTYPE Operation against a key",
            False,
        ),
    ],
)
def test_which_replies_mean_the_stream_is_gone(message: str, gone: bool) -> None:
    from redis.exceptions import ResponseError

    assert stream_gone(ResponseError(message)) is gone


async def test_a_task_that_raises_is_dead_once_and_wakes_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = TaskRegistry()
    registry.on_death = "the process exits"

    async def broken(_handle: object) -> None:
        raise RuntimeError("cannot go on")

    async def returns_early(_handle: object) -> None:
        return None

    with caplog.at_level(logging.ERROR, logger="deploybot.tasks"):
        registry.spawn("broken", broken)
        assert await asyncio.wait_for(registry.first_death(), 2) == (
            "broken",
            "RuntimeError: cannot go on",
        )
        registry.spawn("quits", returns_early)
        name, reason = await asyncio.wait_for(registry.first_death(), 2)
    assert (name, reason) == ("quits", "returned while the process was not stopping")
    assert registry.health().tasks == {
        "broken": "dead: RuntimeError: cannot go on",
        "quits": "dead: returned while the process was not stopping",
    }
    assert [r.getMessage() for r in caplog.records] == [
        "task broken died: RuntimeError: cannot go on; the process exits",
        "task quits died: returned while the process was not stopping; the process exits",
    ]


async def test_recovering_is_logged_once_and_red_after_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [0.0]
    registry = TaskRegistry(bound_s=30, now_s=lambda: clock[0])
    handle = registry.handle("worker")
    with caplog.at_level(logging.WARNING, logger="deploybot.tasks"):
        for _ in range(5):  # every retry reports; one line says so
            handle.recovering("redis unavailable")
        clock[0] = 10
        assert registry.health().ok
        clock[0] = 31
        assert not registry.health().ok
        assert registry.health().tasks == {"worker": "recovering for 31.0 s: redis unavailable"}
        handle.recovered()
    assert registry.health().ok
    assert [r.getMessage() for r in caplog.records] == [
        "worker: redis unavailable; recovering",
        "worker: recovered after 31.0 s",
    ]


def _message(n: int) -> OutboundMessage:
    return OutboundMessage(
        thread_id=f"t{n}", message_id=f"m{n}", origin=ApiOrigin(), text=f"hello {n}", purpose="info"
    )


class Collecting:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[str] = []
        self.fail = fail

    async def send(self, message: OutboundMessage) -> None:
        if self.fail:
            raise ConnectionError("the channel is down")
        self.sent.append(message.text)


async def _until(predicate, timeout_s: float = 5) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_a_poison_outbox_entry_is_set_aside_and_the_pump_goes_on(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    outbox = Outbox(redis=redis, keys=keys)
    await outbox.ensure_group("api")
    await redis.xadd(keys.outbox("api"), {"m": b"{not json"})
    await redis.xadd(keys.outbox("api"), {"m": _message(1).model_dump_json()})
    registry = TaskRegistry()
    sender = Collecting()
    stop = asyncio.Event()
    registry.spawn(
        "outbox:api",
        lambda h: outbox.run(channel="api", sender=sender, consumer="c", stop=stop, health=h),
    )
    await _until(lambda: sender.sent == ["hello 1"])
    assert await outbox.set_aside() == 1
    assert registry.health().tasks == {"outbox:api": "ok"}
    stop.set()
    await registry.stop()


async def test_a_failing_channel_shows_as_recovering_then_recovers(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    outbox = Outbox(redis=redis, keys=keys)
    registry = TaskRegistry()
    sender = Collecting(fail=True)
    stop = asyncio.Event()
    registry.spawn(
        "outbox:api",
        lambda h: outbox.run(channel="api", sender=sender, consumer="c", stop=stop, health=h),
    )
    await outbox.send_transient(_message(2))
    await _until(lambda: isinstance(registry.states()["outbox:api"], Recovering))
    assert (
        "deliveries to api failing (ConnectionError: the channel is down)"
        in (registry.health().tasks["outbox:api"])
    )
    sender.fail = False  # the failed message is retried once idle 5 s (retry_idle_ms)
    await _until(lambda: sender.sent == ["hello 2"], timeout_s=8)
    await _until(lambda: registry.health().tasks == {"outbox:api": "ok"})
    stop.set()
    await registry.stop()


async def test_a_pump_whose_key_is_broken_for_good_dies_and_says_why(
    redis: Redis, key_prefix: str
) -> None:
    keys = Keys(key_prefix)
    await redis.set(keys.timers(), "not a sorted set")
    registry = TaskRegistry()
    timers = Timers(redis=redis, keys=keys, queue=None)  # type: ignore[arg-type]
    stop = asyncio.Event()
    registry.spawn(
        "timers", lambda h: timers.run(clock=lambda: datetime.now(UTC), stop=stop, health=h)
    )
    name, reason = await asyncio.wait_for(registry.first_death(), 5)
    assert name == "timers"
    assert reason.startswith("ResponseError: WRONGTYPE")
    assert isinstance(registry.states()["timers"], Dead)
