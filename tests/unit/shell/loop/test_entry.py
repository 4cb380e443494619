"""``bot.shell.loop.entry.EntryHandler`` on its own, over an in-process Redis
(tests/fakes/shell.py) with a scripted stand-in for the turn (``Runner.advance``): an entry
handled (thread saved, its new message queued, the entry acknowledged, the lease released),
an entry whose thread another worker holds waits for the lease, a poison entry (undecodable,
or delivered too often) is set aside and its thread told, and an entry for a thread that
does not exist is set aside without a turn."""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
import pytest

from bot.core.config.config import parse_config
from bot.core.thread.events import MessageSent, UserMessage
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.thread import Thread
from bot.shell.loop.entry import EntryHandler
from bot.shell.loop.timers import Timers
from bot.shell.streams.inbound import Delivery, Envelope
from bot.shell.world.context import Context, Limits
from tests.context import context_over
from tests.fakes.shell import CONFIG, TickingClock

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@dataclass
class ScriptedRunner:
    """Stands in for ``bot.shell.loop.turn.Runner``: each turn says one line in the thread."""

    turns: list[str] = field(default_factory=list)

    async def advance(self, thread: Thread) -> set[str]:
        self.turns.append(thread.id)
        thread.events.append(
            MessageSent(id=f"reply-{len(self.turns)}", at=AT, purpose="info", text="on it")
        )
        return set()


@dataclass
class Rig:
    context: Context
    redis: Any
    runner: ScriptedRunner
    handler: EntryHandler


@pytest.fixture
async def rig() -> Rig:
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    limits = Limits(lease_ttl_ms=400, max_deliveries=3, lock_wait_s=0)
    context = context_over(
        redis,
        "unit",
        parse_config(CONFIG, base_dir=Path("/nowhere")),
        clock=TickingClock().clock(),
        limits=limits,
    )
    await context.queue.ensure_group()
    runner = ScriptedRunner()
    handler = EntryHandler(
        context=context,
        runner=runner,  # type: ignore[arg-type]
        timers=Timers(redis=redis, keys=context.keys, queue=context.queue),
        consumer="w1",
        slots=asyncio.Semaphore(2),
    )
    return Rig(context=context, redis=redis, runner=runner, handler=handler)


def message(text: str = "deploy backend v1.1.0 to staging", *, event_id: str = "m1") -> UserMessage:
    return UserMessage(id=event_id, at=AT, actor="api:carol", text=text)


async def delivered(rig: Rig, envelope: Envelope) -> Delivery:
    await rig.context.queue.publish(envelope)
    (delivery,) = await rig.context.queue.read(consumer="w1", count=1, block_ms=None)
    return delivery


async def outbox_texts(rig: Rig) -> list[str]:
    got = await rig.redis.xrange(rig.context.keys.outbox("api"))
    return [json.loads(fields[b"m"])["text"] for _, fields in got]


async def pending_entries(rig: Rig) -> int:
    return int(await rig.context.queue.lag())


async def test_an_entry_starting_a_thread_is_handled_saved_queued_and_acknowledged(
    rig: Rig,
) -> None:
    envelope = Envelope(thread_id="t1", event=message(), origin=ApiOrigin())
    delivery = await delivered(rig, envelope)
    assert await pending_entries(rig) == 1
    await rig.handler.handle(delivery)

    assert rig.runner.turns == ["t1"]
    saved = await rig.context.store.load("t1")
    assert saved is not None
    assert [e.id for e in saved.events] == ["m1", "reply-1"]
    assert await outbox_texts(rig) == ["on it"]
    assert await pending_entries(rig) == 0
    assert await rig.redis.get(rig.context.keys.lease("t1")) is None  # released
    assert await rig.context.queue.dead_letters() == []


async def test_a_redelivered_event_is_not_added_twice(rig: Rig) -> None:
    envelope = Envelope(thread_id="t1", event=message(), origin=ApiOrigin())
    await rig.handler.handle(await delivered(rig, envelope))
    await rig.handler.handle(await delivered(rig, envelope))

    saved = await rig.context.store.load("t1")
    assert saved is not None
    assert [e.id for e in saved.events].count("m1") == 1


async def test_an_entry_waits_while_another_worker_holds_the_threads_lease(rig: Rig) -> None:
    first = Envelope(thread_id="t1", event=message(), origin=ApiOrigin())
    await rig.handler.handle(await delivered(rig, first))
    got, _ = await rig.context.store.lease_and_load("t1", token="w2:x", ttl_ms=60_000)
    assert got

    second = Envelope(thread_id="t1", event=message("status", event_id="m2"))
    handling = asyncio.create_task(rig.handler.handle(await delivered(rig, second)))
    for _ in range(10):  # several of its waits go by: it never advances the thread
        await asyncio.sleep(0.05)
    assert not handling.done()
    assert rig.runner.turns == ["t1"]

    await rig.context.store.release_lease("t1", token="w2:x")
    await handling
    assert rig.runner.turns == ["t1", "t1"]
    saved = await rig.context.store.load("t1")
    assert saved is not None
    assert [e.id for e in saved.events] == ["m1", "reply-1", "m2", "reply-2"]
    assert await pending_entries(rig) == 0


async def test_an_entry_delivered_too_often_is_set_aside_and_its_thread_told(rig: Rig) -> None:
    first = Envelope(thread_id="t1", event=message(), origin=ApiOrigin())
    await rig.handler.handle(await delivered(rig, first))
    poison = await delivered(rig, Envelope(thread_id="t1", event=message("x", event_id="m2")))
    poison = poison.model_copy(update={"deliveries": 4})  # max_deliveries is 3

    await rig.handler.handle(poison)

    assert rig.runner.turns == ["t1"]  # no turn for it
    ((_, reason),) = await rig.context.queue.dead_letters()
    assert "3" in reason  # the failures it took
    saved = await rig.context.store.load("t1")
    assert saved is not None
    assert "m2" not in [e.id for e in saved.events]
    told = [e for e in saved.events if isinstance(e, MessageSent) and e.purpose == "error"]
    assert len(told) == 1
    assert (await outbox_texts(rig))[-1] == told[0].text
    assert await pending_entries(rig) == 0
    assert await rig.redis.get(rig.context.keys.lease("t1")) is None


async def test_an_undecodable_entry_is_set_aside_and_the_thread_it_names_told(rig: Rig) -> None:
    await rig.handler.handle(
        await delivered(rig, Envelope(thread_id="t1", event=message(), origin=ApiOrigin()))
    )
    raw = json.dumps({"thread_id": "t1", "event": {"type": "nonsense"}}).encode()
    await rig.redis.xadd(rig.context.keys.inbound(), {"e": raw})
    (broken,) = await rig.context.queue.read(consumer="w1", count=1, block_ms=None)
    assert broken.envelope is None
    assert broken.thread_id == "t1"

    await rig.handler.handle(broken)

    assert len(await rig.context.queue.dead_letters()) == 1
    saved = await rig.context.store.load("t1")
    assert saved is not None
    assert any(isinstance(e, MessageSent) and e.purpose == "error" for e in saved.events)
    assert rig.runner.turns == ["t1"]
    assert await pending_entries(rig) == 0


async def test_an_entry_for_a_thread_that_does_not_exist_is_set_aside_without_a_turn(
    rig: Rig,
) -> None:
    orphan = Envelope(thread_id="gone", event=message())  # no origin: cannot start one
    await rig.handler.handle(await delivered(rig, orphan))

    assert rig.runner.turns == []
    ((_, reason),) = await rig.context.queue.dead_letters()
    assert "gone" in reason
    assert await rig.context.store.load("gone") is None
    assert await pending_entries(rig) == 0
    assert await rig.redis.get(rig.context.keys.lease("gone")) is None
