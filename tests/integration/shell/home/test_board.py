"""The App Home's board (bot/shell/home/board.py) on a real Redis: what is live, held,
quarantined and waiting, per pair, in two round trips; stale and unreadable entries left out."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.core.config.config import parse_config
from bot.core.thread.events import ApprovalDecided, ApprovalRequested, Event, PlanProposed
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import DeployRecord, Plan, Quarantined
from bot.core.thread.thread import Thread
from bot.shell.home.board import BoardReader
from bot.shell.lock.holder import LockHolder
from bot.shell.runtime.clock import Clock
from bot.shell.world.context import Context
from tests.context import context_over

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
CONFIG = parse_config(
    """
[people]
alice = { slack = "U0ALICE" }
bob = { slack = "U0BOB" }
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[services.frontend]
repo = "r"
deploy = ["./d"]
environments = ["production"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
[[freezes]]
name = "launch"
environments = ["production"]
from = "2026-11-02T09:00:00Z"
until = "2026-11-02T12:00:00Z"
reason = "launch day"
""",
    base_dir=Path("/srv"),
)


def plan(version: str, *, service: str = "backend") -> Plan:
    return Plan(
        kind="deploy",
        service=service,
        environment="production",
        version=version,
        sha=version.replace(".", "").ljust(40, "0")[:40],
        requester="alice",
    )


def record(version: str, result: str, minutes_ago: int) -> DeployRecord:
    return DeployRecord.model_validate(
        {
            "thread_id": "t0",
            "kind": "deploy",
            "version": version,
            "sha": "c" * 40,
            "requester": "alice",
            "approvers": ["bob"],
            "result": result,
            "at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
        }
    )


def asked(thread_id: str, p: Plan, *then: Event) -> Thread:
    """A thread that asked for approval of ``p`` (and what happened since)."""
    events: list[Event] = [
        PlanProposed(id=f"{thread_id}-p", at=NOW, plan=p),
        ApprovalRequested(
            id=f"{thread_id}-r",
            at=NOW,
            plan_hash=p.plan_hash,
            approvers=["bob"],
            min_approvals=1,
            expires_at=NOW + timedelta(hours=1),
        ),
        *then,
    ]
    return Thread(id=thread_id, origin=ApiOrigin(), created_at=NOW, events=events)


@pytest.fixture
def context(redis: Redis, key_prefix: str) -> Context:
    return context_over(redis, key_prefix, CONFIG, clock=Clock(now=lambda: NOW))


@pytest.fixture
def round_trips(context: Context, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many commands each pipeline the store makes sent (one a round trip)."""
    sent: list[int] = []
    make = context.store.pipeline

    def counted() -> Pipeline:
        pipe = make()
        execute = pipe.execute

        async def run(raise_on_error: bool = True) -> list[object]:
            sent.append(len(pipe.command_stack))
            return await execute(raise_on_error)

        pipe.execute = run  # type: ignore[method-assign]
        return pipe

    monkeypatch.setattr(context.store, "pipeline", counted)
    return sent


async def test_the_board_shows_each_pair(
    context: Context, redis: Redis, round_trips: list[int]
) -> None:
    history = context.history
    await history.record(
        service="backend", environment="production", record=record("v1.4.1", "succeeded", 60)
    )
    await history.record(
        service="backend", environment="production", record=record("v1.4.2", "failed", 5)
    )
    await history.record(
        service="backend", environment="staging", record=record("v1.4.2", "succeeded", 30)
    )
    holder = LockHolder(thread_id="t9", who="bob", why="deploy backend v1.4.3", since=NOW)
    assert (
        await context.env_lock.acquire(
            service="backend", environment="staging", holder=holder, ttl_ms=60_000
        )
    )[0]
    person = LockHolder(thread_id="", who="alice", why="release day", since=NOW)
    assert (await context.env_lock.freeze(environment="production", holder=person))[0]
    entry = Quarantined(version="v1.4.2", sha="c" * 40, by="verification", reason="5xx", at="x")
    await context.quarantine.add(service="backend", environment="production", entry=entry)

    open_one = asked("t-open", plan("v1.4.3"))
    rejected = asked(
        "t-rejected",
        plan("v1.4.4"),
        ApprovalDecided(
            id="t-rejected-d",
            at=NOW,
            plan_hash=plan("v1.4.4").plan_hash,
            actor="slack:U0BOB",
            person="bob",
            decision="reject",
        ),
    )
    for thread in (open_one, rejected):
        await context.store.save(thread)
    pending = context.keys.pending_approvals("backend", "production")
    await redis.hset(
        pending,
        mapping={
            "t-open": plan("v1.4.3").plan_hash,
            "t-rejected": plan("v1.4.4").plan_hash,  # decided: the entry outlived it
            "t-gone": "abcd",  # no such thread
        },
    )
    # An entry naming a thread whose open request is another pair's: not shown there.
    await redis.hset(context.keys.pending_approvals("backend", "staging"), "t-open", "abcd")
    for thread_id, version in (("t-q1", "v1.5.0"), ("t-q2", "v1.5.1")):
        await context.line.join(thread_id, plan(version, service="frontend"), queue_max=10)

    board = await BoardReader(context=context).read()

    assert round_trips == [3 * 6 + 2, 3]  # 3 pairs (6 reads each) and 2 envs; 3 threads
    assert board.at == NOW
    assert [(p.service, p.environment) for p in board.pairs] == [
        ("backend", "staging"),
        ("backend", "production"),
        ("frontend", "production"),
    ]
    staging, production, frontend = board.pairs
    assert staging.live is not None
    assert (staging.live.version, staging.latest) == ("v1.4.2", None)
    assert staging.deploying is not None
    assert (staging.deploying.who, staging.deploying.thread_id) == ("bob", "t9")
    assert staging.waiting == []
    assert production.live is not None
    assert production.latest is not None
    assert (production.live.version, production.latest.version) == ("v1.4.1", "v1.4.2")
    assert production.deploying is None
    assert [q.version for q in production.quarantined] == ["v1.4.2"]
    [waiting] = production.waiting
    assert waiting.thread_id == "t-open"
    assert waiting.approval.plan == plan("v1.4.3")
    assert (frontend.live, frontend.deploying, frontend.waiting) == (None, None, [])
    assert [(q.thread_id, q.version, q.requester) for q in frontend.queue] == [
        ("t-q1", "v1.5.0", "alice"),
        ("t-q2", "v1.5.1", "alice"),
    ]
    [env_staging, env_production] = board.environments
    assert env_staging.locked is None
    assert env_production.locked is not None
    assert (env_production.locked.who, env_production.locked.why) == ("alice", "release day")
    [freeze] = env_production.freezes
    assert (freeze.name, freeze.reason, freeze.until) == (
        "launch",
        "launch day",
        datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
    )
    assert (env_staging.freezes, production.queue, production.soak) == ([], [], None)


async def test_an_unreadable_entry_leaves_the_rest_shown(
    context: Context, redis: Redis, round_trips: list[int]
) -> None:
    await redis.lpush(context.keys.history("backend", "production"), b"{not json")
    await context.history.record(
        service="backend", environment="staging", record=record("v1.4.2", "succeeded", 30)
    )
    await redis.set(context.keys.freeze("staging"), b"garbage")

    board = await BoardReader(context=context).read()

    assert round_trips == [20]  # nothing waits: no second round trip
    staging, production, _ = board.pairs
    assert staging.live is not None
    assert staging.live.version == "v1.4.2"
    assert production.live is None
    assert board.environments[0].locked is None
