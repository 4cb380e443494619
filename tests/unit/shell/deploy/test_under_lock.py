"""The deploy's reads under its pair's lock (bot/shell/deploy/under_lock.py) and the writes
batched after ``deploy_started`` (bot/shell/deploy/execution.py), on an in-process Redis:

- a person's lock taken after the plan was made: the grant is given back at once, nothing
  runs, nothing reaches the outbox; with the pair busy as well, the person's lock is said at
  the first try (no wait for the pair);
- a compare-and-set conflict on ``deploy_started``: it raises, and no message reaches the
  outbox, no other request is superseded, no newest-started mark is written, the command
  never starts and the lock is given back;
- after the start: the other requests waiting for the pair are told through the inbound
  stream and forgotten, the newest-started mark written, the start message queued;
- the tags cache: updated (its lifetime kept) when the repository's tags changed, never
  created when nothing was cached, left alone when they are the same.
"""

from typing import Any

import pytest
from pydantic import TypeAdapter

from bot.core.errors import ThreadConflict
from bot.core.thread.events import DeployStarted, ErrorRecorded, PlanSuperseded
from bot.core.thread.plan import Tag
from bot.shell.lock.holder import LockHolder
from bot.shell.streams.inbound import Envelope
from bot.shell.world.context import Context, Limits
from bot.shell.world.lookups import TurnMemo
from tests.fakes.shell import FakeDeployer, fake_context
from tests.unit.shell.deploy.test_execution import AT, PLAN, TAGS, executor, holder, of
from tests.unit.shell.deploy.test_execution import thread_with_plan as planned

_TagList = TypeAdapter(list[Tag])


async def run(context: Context, commands: list[Any]) -> list[Any]:
    pipe = context.store.pipeline()
    for name, *args in commands:
        getattr(pipe, name)(*args)
    return list(await pipe.execute())


async def outbox_entries(context: Context) -> int:
    [keys] = await run(context, [("keys", f"{context.keys.prefix}:outbox:*")])
    if not keys:
        return 0
    return sum(await run(context, [("xlen", k) for k in keys]))


async def inbound(context: Context) -> list[Envelope]:
    [entries] = await run(context, [("xrange", context.keys.inbound())])
    return [Envelope.model_validate_json(fields[b"e"]) for _, fields in entries]


async def wait_for_pair(context: Context, thread_id: str, plan_hash: str) -> None:
    key = context.keys.pending_approvals("backend", "staging")
    await run(context, [("hset", key, thread_id, plan_hash)])


async def test_a_person_lock_taken_after_the_plan_gives_the_grant_back() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    person = LockHolder(thread_id="", who="dave", why="load test", since=AT)
    await context.env_lock.freeze(environment="staging", holder=person)
    thread = planned()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    assert deployer.runs == []
    [error] = of(thread.events, ErrorRecorded)
    assert isinstance(error, ErrorRecorded)
    assert error.kind == "locked"
    assert "locked by dave" in error.message
    assert await holder(context) is None  # granted, then given back
    [fence] = await run(context, [("get", context.keys.fence("backend", "staging"))])
    assert fence is not None  # it was granted: the fence knows its token, released
    assert fence.endswith(b":1")
    assert await outbox_entries(context) == 0


async def test_a_busy_pair_under_a_person_lock_says_the_person_lock_at_once() -> None:
    context, _ = fake_context(limits=Limits(lock_ttl_ms=3000, lock_wait_s=600))
    other = LockHolder(thread_id="t9", who="bob", why="deploy backend v1.0.9", since=AT)
    ok, _ = await context.env_lock.acquire(
        service="backend", environment="staging", holder=other, ttl_ms=60_000
    )
    assert ok
    person = LockHolder(thread_id="", who="dave", why="load test", since=AT)
    await context.env_lock.freeze(environment="staging", holder=person)
    deployer = FakeDeployer()
    thread = planned()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())  # no 600 s wait
    [error] = of(thread.events, ErrorRecorded)
    assert isinstance(error, ErrorRecorded)
    assert "locked by dave" in error.message
    assert "busy" not in error.message
    assert deployer.runs == []
    still = await holder(context)
    assert still is not None
    assert still.thread_id == "t9"


async def test_a_conflicting_save_of_the_start_leaks_nothing() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    await context.store.save(planned())  # another worker saved the thread (version 1)...
    stale = planned()  # ...while this one holds version 0
    await wait_for_pair(context, "t9", "h9")
    with pytest.raises(ThreadConflict):
        await executor(context, deployer).execute(stale, PLAN, memo=TurnMemo())
    assert deployer.runs == []
    assert not of(stale.events, DeployStarted)
    assert await outbox_entries(context) == 0
    assert await inbound(context) == []  # nobody told they were superseded...
    key = context.keys.pending_approvals("backend", "staging")
    [waiting, started] = await run(
        context,
        [("hgetall", key), ("get", context.keys.newest_started("backend", "staging"))],
    )
    assert waiting == {b"t9": b"h9"}  # ...nor forgotten
    assert started is None
    assert await holder(context) is None
    claim = context.keys.idempotency("t1", PLAN.plan_hash)
    assert await run(context, [("exists", claim)]) == [0]


async def test_after_the_start_the_other_requests_are_superseded_in_the_same_trip() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    await wait_for_pair(context, "t9", "h9")
    await wait_for_pair(context, "t1", PLAN.plan_hash)  # its own request: forgotten, not told
    thread = planned()
    memo = TurnMemo()
    await executor(context, deployer).execute(thread, PLAN, memo=memo)
    assert len(deployer.runs) == 1
    [told] = await inbound(context)
    assert told.thread_id == "t9"
    assert isinstance(told.event, PlanSuperseded)
    assert told.event.plan_hash == "h9"
    key = context.keys.pending_approvals("backend", "staging")
    [waiting, started] = await run(
        context,
        [("hgetall", key), ("get", context.keys.newest_started("backend", "staging"))],
    )
    assert waiting == {}
    assert started is not None
    assert f"t1:{PLAN.plan_hash}".encode() in started
    assert memo.published
    assert await outbox_entries(context) >= len(memo.published)


@pytest.mark.parametrize(
    ("cached", "found", "after"),
    [
        ([Tag(name="v1.0.0", sha="a" * 40)], TAGS, TAGS),  # changed: updated
        (None, TAGS, None),  # nothing cached: nothing created
        (TAGS, TAGS, TAGS),  # the same: left alone
    ],
)
async def test_the_tags_cache_is_written_only_when_the_tags_changed(
    cached: list[Tag] | None, found: list[Tag], after: list[Tag] | None
) -> None:
    context, _ = fake_context()
    key = context.keys.tags_cache("backend")
    if cached is not None:
        await run(context, [("set", key, _TagList.dump_json(cached), None, 60_000)])
    await executor(context, FakeDeployer(), tags=found).execute(planned(), PLAN, memo=TurnMemo())
    [raw, ttl_ms] = await run(context, [("get", key), ("pttl", key)])
    assert (None if raw is None else _TagList.validate_json(raw)) == after
    if after is not None:
        assert 0 < ttl_ms <= 60_000  # the lifetime the cache was given, kept
