"""``bot.shell.deploy.recovery.Recovery`` on its own, against fakes (tests/fakes/shell.py): a
deploy whose worker died before saving its result is never run again; its result is read
back from the history, or asked of the service's status command by its key; when neither
can say, it is held (interrupted) for a person and the pair stays locked."""

from datetime import UTC, datetime

import pytest

from bot.core.loop.steps import Recover
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.events import DeployFinished, DeployInterrupted, DeployStarted, LockChanged
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.shell.deploy.interruption import Interruptions
from bot.shell.deploy.recovery import Recovery
from bot.shell.lock.holder import LockHolder
from bot.shell.world.context import Context
from tests.fakes.shell import FakeDeployer, fake_context
from tests.unit.shell.deploy.test_execution import PLAN, executor, thread_with_plan

AT = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


async def crashed(context: Context, *, plan: Plan = PLAN) -> tuple[Thread, Recover]:
    """A thread whose deploy started (saved, lock taken) and whose worker then died."""
    holder = LockHolder(thread_id="t1", who=plan.requester, why="deploy", since=AT)
    ok, got = await context.env_lock.acquire(
        service=plan.service, environment=plan.environment, holder=holder, ttl_ms=60_000
    )
    assert ok
    started = DeployStarted(
        id="s1",
        at=AT,
        plan_hash=plan.plan_hash,
        idempotency_key=f"t1:{plan.plan_hash}",
        fencing_token=got.fencing_token,
    )
    thread = thread_with_plan()
    thread.events.append(started)
    await context.store.save(thread)
    return thread, Recover(plan=plan, started=started)


def recovery(context: Context, deployer: FakeDeployer) -> Recovery:
    return Recovery(
        context=context,
        deployer=deployer,  # type: ignore[arg-type]
        executor=executor(context, deployer),
        interruptions=Interruptions(context=context),
    )


async def pair_holder(context: Context) -> LockHolder | None:
    return await context.env_lock.holder(service="backend", environment="staging")


async def test_a_result_in_the_history_is_read_back_and_nothing_runs() -> None:
    context, _ = fake_context()
    deployer = FakeDeployer()
    thread, step = await crashed(context)
    written = executor(context, deployer)  # what the dead worker wrote after the command
    await written.record(thread, PLAN, result="failed", at=AT.replace(minute=31), token=0)
    events = await recovery(context, deployer).recover(step, thread)
    assert deployer.calls == []  # neither run nor asked: the history knew
    finished = [e for e in events if isinstance(e, DeployFinished)]
    assert [e.result for e in finished] == ["failed"]
    assert "read back from the deploy history" in finished[0].output_tail
    assert [e.action for e in events if isinstance(e, LockChanged)] == ["released"]
    assert await pair_holder(context) is None


@pytest.mark.parametrize(("exit_code", "result"), [(0, "succeeded"), (1, "failed")])
async def test_the_status_command_answers_by_key(exit_code: int, result: str) -> None:
    context, _ = fake_context()
    answer = DeployResult(
        result=result,  # type: ignore[arg-type]
        exit_code=exit_code,
        duration_s=0.1,
        output_tail="it is live" if exit_code == 0 else "it failed",
    )
    deployer = FakeDeployer(status_answer=answer)
    thread, step = await crashed(context)
    events = await recovery(context, deployer).recover(step, thread)
    assert deployer.runs == []  # never run again
    assert [(c.kind, c.idempotency_key) for c in deployer.calls] == [
        ("status", step.started.idempotency_key)
    ]
    finished = [e for e in events if isinstance(e, DeployFinished)]
    assert [e.result for e in finished] == [result]
    assert "the service's status command says" in finished[0].output_tail
    assert await pair_holder(context) is None
    history = await context.history.recent(service="backend", environment="staging", limit=5)
    assert [r.result for r in history] == [result]


@pytest.mark.parametrize(
    "answer",
    [
        None,  # no status command, or it knows nothing of the key
        DeployResult(result="timed_out", exit_code=None, duration_s=10, output_tail=""),
        OutcomeUnknown(reason="the run was never found", duration_s=1),
    ],
)
async def test_an_outcome_nobody_knows_is_held_for_a_person(
    answer: DeployResult | OutcomeUnknown | None,
) -> None:
    context, _ = fake_context()
    deployer = FakeDeployer(status_answer=answer)
    thread, step = await crashed(context)
    events = await recovery(context, deployer).recover(step, thread)
    assert deployer.runs == []
    assert not [e for e in events if isinstance(e, DeployFinished)]
    assert [type(e).__name__ for e in events] == ["DeployInterrupted", "MessageSent"]
    assert isinstance(events[0], DeployInterrupted)
    held = await pair_holder(context)
    assert held is not None
    assert held.interrupted
    assert held.thread_id == "t1"
    history = await context.history.recent(service="backend", environment="staging", limit=5)
    assert [r.result for r in history] == ["interrupted"]
