"""``bot.shell.deploy.execution.Executor`` on its own, against in-memory fakes
(tests/fakes/shell.py): an approved plan runs exactly once (a second execution of it, from a
stale copy of the thread or after another worker claimed its key, never runs it), the
re-check under the lock refuses a plan whose world changed, a busy pair refuses, and a
failed or unknown outcome leaves the pair released or held as invariant 4 says."""

from datetime import UTC, datetime

import pytest

from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.events import (
    DeployFinished,
    DeployInterrupted,
    DeployQueued,
    DeployStarted,
    ErrorRecorded,
    Event,
    LockChanged,
    MessageSent,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan, Tag
from bot.core.thread.thread import Thread
from bot.shell.deploy.execution import Executor
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.prior_runs import PriorRuns
from bot.shell.deploy.recheck import LiveCheck
from bot.shell.deploy.watch import DeployWatch
from bot.shell.lock.holder import LockHolder
from bot.shell.world.context import Context
from bot.shell.world.lookups import TurnMemo
from tests.fakes.shell import FakeDeployer, FakeLookups, fake_context

SHA = "b" * 40
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.1.0",
    sha=SHA,
    requester="carol",
)
TAGS = [Tag(name="v1.1.0", sha=SHA)]
AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def thread_with_plan(thread_id: str = "t1") -> Thread:
    return Thread(
        id=thread_id,
        origin=ApiOrigin(),
        created_at=AT,
        events=[
            UserMessage(id="m1", at=AT, actor="api:carol", text="deploy backend v1.1.0 to staging"),
            PlanProposed(id="p1", at=AT, plan=PLAN),
        ],
    )


def executor(context: Context, deployer: FakeDeployer, tags: list[Tag] | None = None) -> Executor:
    lookups = FakeLookups(tags=TAGS if tags is None else tags)
    return Executor(
        context=context,
        watch=DeployWatch(context=context, deployer=deployer),  # type: ignore[arg-type]
        recheck=LiveCheck(context=context, lookups=lookups),  # type: ignore[arg-type]
        prior=PriorRuns(context=context, deployer=deployer),  # type: ignore[arg-type]
        interruptions=Interruptions(context=context),
    )


def of(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


async def holder(context: Context) -> LockHolder | None:
    return await context.env_lock.holder(service="backend", environment="staging")


async def test_a_plan_runs_once_write_ahead_and_the_pair_is_released() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    thread = thread_with_plan()
    memo = TurnMemo()
    await executor(context, deployer).execute(thread, PLAN, memo=memo)
    assert [c.idempotency_key for c in deployer.runs] == [f"t1:{PLAN.plan_hash}"]
    started = of(thread.events, DeployStarted)
    finished = of(thread.events, DeployFinished)
    assert len(started) == 1
    assert len(finished) == 1
    assert isinstance(finished[0], DeployFinished)
    assert finished[0].result == "succeeded"
    actions = [e.action for e in thread.events if isinstance(e, LockChanged)]
    assert actions == ["acquired", "released"]
    # Saved before it ran (write-ahead), the result saved after; the start message handed out.
    saved = await context.store.load("t1")
    assert saved is not None
    assert saved.has_event(started[0].id)
    assert saved.has_event(finished[0].id)
    assert memo.published
    assert all(thread.has_event(i) for i in memo.published)
    assert await holder(context) is None
    history = await context.history.recent(service="backend", environment="staging", limit=5)
    assert [(r.version, r.result) for r in history] == [("v1.1.0", "succeeded")]


async def test_a_stale_copy_of_the_thread_never_runs_the_plan_again() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    thread = thread_with_plan()
    stale = thread.model_copy(deep=True)  # what a second worker (or Redis rolled back) holds
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    await executor(context, deployer).execute(stale, PLAN, memo=TurnMemo())
    assert len(deployer.runs) == 1
    refused = of(stale.events, ErrorRecorded)
    assert refused
    assert "not run again" in refused[-1].message
    assert not of(stale.events, DeployFinished)
    assert await holder(context) is None


async def test_a_key_another_worker_claimed_is_refused_not_run() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    claim = context.keys.idempotency("t1", PLAN.plan_hash)
    await context.store.save(thread_with_plan("other"), claim=claim)  # claimed elsewhere first
    thread = thread_with_plan()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    assert deployer.runs == []
    errors = of(thread.events, ErrorRecorded)
    assert [e.kind for e in errors] == ["refused"]  # type: ignore[attr-defined]
    assert "never run twice" in errors[0].message  # type: ignore[attr-defined]
    assert not of(thread.events, DeployStarted)
    assert await holder(context) is None  # the lock taken for it was given back


async def test_a_tag_moved_since_approval_is_refused_under_the_lock_and_planned_again() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    thread = thread_with_plan()
    moved = [Tag(name="v1.1.0", sha="c" * 40)]
    await executor(context, deployer, tags=moved).execute(thread, PLAN, memo=TurnMemo())
    assert deployer.runs == []
    said = [e.text for e in of(thread.events, MessageSent)]  # type: ignore[attr-defined]
    assert any(f"Plan #{PLAN.short_id} did not run" in t and "now points at" in t for t in said)
    again = [e for e in thread.events if isinstance(e, PlanProposed) and e.id != "p1"]
    assert len(again) == 1
    assert again[0].plan.sha == "c" * 40
    assert again[0].plan.plan_hash != PLAN.plan_hash  # no approval of the old plan counts
    assert not of(thread.events, DeployStarted)
    assert await holder(context) is None


async def test_a_busy_pair_queues_the_plan_without_running_it() -> None:
    """Issue 19.3: a plan that finds its pair held waits in the pair's queue (no worker
    slot held, nothing failed), told its place and who is ahead; the holder keeps it."""
    context, _ = fake_context()
    deployer = FakeDeployer()
    other = LockHolder(thread_id="t9", who="dave", why="deploy backend v1.0.9", since=AT)
    ok, _ = await context.env_lock.acquire(
        service="backend", environment="staging", holder=other, ttl_ms=60_000
    )
    assert ok
    thread = thread_with_plan()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    assert deployer.runs == []
    assert of(thread.events, ErrorRecorded) == []
    (queued,) = of(thread.events, DeployQueued)
    assert (queued.position, queued.behind) == (1, "deploy backend v1.0.9 by dave")  # type: ignore[attr-defined]
    assert thread.status == "queued"
    said = [e.text for e in of(thread.events, MessageSent)]  # type: ignore[attr-defined]
    assert "is 1st in line, behind deploy backend v1.0.9 by dave" in said[-1]
    waiting = await context.line.waiting(service="backend", environment="staging")
    assert [w.thread_id for w in waiting] == [thread.id]
    still = await holder(context)
    assert still is not None
    assert still.thread_id == "t9"


async def test_a_failed_deploy_is_recorded_and_releases_the_pair() -> None:
    context, _ = fake_context()
    failed = DeployResult(result="failed", exit_code=3, duration_s=2.0, output_tail="boom")
    deployer = FakeDeployer(result=failed)
    thread = thread_with_plan()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    finished = of(thread.events, DeployFinished)
    assert [(e.result, e.exit_code) for e in finished] == [("failed", 3)]  # type: ignore[attr-defined]
    assert await holder(context) is None
    history = await context.history.recent(service="backend", environment="staging", limit=5)
    assert [r.result for r in history] == ["failed"]


async def test_an_unknown_outcome_holds_the_pair_for_a_person() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer(result=OutcomeUnknown(reason="the run may go on", duration_s=1.0))
    thread = thread_with_plan()
    await executor(context, deployer).execute(thread, PLAN, memo=TurnMemo())
    assert len(deployer.runs) == 1
    assert not of(thread.events, DeployFinished)
    assert len(of(thread.events, DeployInterrupted)) == 1
    held = await holder(context)
    assert held is not None
    assert held.interrupted
    assert held.thread_id == "t1"
    saved = await context.store.load("t1")
    assert saved is not None
    assert any(isinstance(e, DeployInterrupted) for e in saved.events)


@pytest.mark.parametrize("requester", ["carol", "dave"])
async def test_an_environment_locked_by_a_person_stops_everyone_else(requester: str) -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    lock = LockHolder(thread_id="", who="carol", why="release freeze", since=AT)
    await context.env_lock.freeze(environment="staging", holder=lock)
    plan = PLAN.model_copy(update={"requester": requester})
    thread = thread_with_plan()
    await executor(context, deployer).execute(thread, plan, memo=TurnMemo())
    ran = requester == "carol"  # the person who locked it may still deploy
    assert len(deployer.runs) == (1 if ran else 0)
    assert bool(of(thread.events, DeployStarted)) is ran
