"""Release policy through the real worker on real Redis (issue 19), with an injected clock and
the deploy script's call log counting what ran: promotion order and soak (refused with the
time it is ready, ``when ready`` planned then, ``skip soak`` only by a named person and shown
on the card), a freeze that starts between approval and run (not run, proposed again after
it), break glass, and the per-pair queue (positions, cancel, its turn after the holder)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.core.thread.events import DeployQueued, PlanProposed, ReleaseAwaited
from bot.core.thread.intents import AskHuman
from bot.shell.home.board import BoardReader
from bot.shell.lock.holder import LockHolder
from tests.support import (
    Clock,
    ScriptedAgent,
    add_tag,
    calls,
    make_app,
    say,
    texts,
    thread_of,
    write_setup,
)

# Monday 2 Nov 2026, 09:00 UTC (the support clock's start).
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
FREEZE = """
[[freezes]]
name = "change-board"
environments = ["production"]
from = "2026-11-02T10:00Z"
until = "2026-11-02T12:00Z"
reason = "change board review"
break_glass = ["alice"]
"""


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    production = 'requires = ["staging"]\nsoak_s = 1800\nsoak_override_by = ["alice"]\n'
    return write_setup(tmp_path, production=production, tail=FREEZE)


def deployed(base: Path) -> list[tuple[str, str, str]]:
    return [tuple(line.split()[1:4]) for line in calls(base)]  # type: ignore[misc]


async def test_production_waits_for_staging_and_its_soak(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)
    await say(app, "p", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    refused = texts(await thread_of(app, "p"))[-1]
    assert refused.startswith("backend v1.4.2 is not ready for production: not deployed to staging")
    assert calls(tmp_path) == []

    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    assert deployed(tmp_path) == [("backend", "v1.4.2", "staging")]
    # The App Home's board shows the soak of staging's live commit, for production.
    board = await BoardReader(context=app.context).read()
    (staging,) = [p for p in board.pairs if (p.service, p.environment) == ("backend", "staging")]
    assert staging.soak is not None
    assert (staging.soak.version, staging.soak.done_at) == ("v1.4.2", START + timedelta(minutes=30))

    clock.advance(12 * 60)
    await say(app, "p", "slack:U0CAROL", "deploy backend v1.4.2 to production")
    await app.worker.run_until_idle()
    refused = texts(await thread_of(app, "p"))[-1]
    assert "in staging for 12 min of 30 min: ready at 09:30 UTC" in refused
    assert "alice may say 'deploy backend v1.4.2 to production skip soak <reason>'" in refused

    await say(app, "p", "slack:U0CAROL", "deploy backend v1.4.2 to production when ready")
    await app.worker.run_until_idle()
    waiting = await thread_of(app, "p")
    assert waiting.status == "queued"
    assert "I will plan it again at 09:30 UTC" in texts(waiting)[-1]

    clock.advance(17 * 60)  # 09:29: one minute early, nothing happens
    await app.worker.run_until_idle()
    assert (await thread_of(app, "p")).status == "queued"
    clock.advance(60)  # 09:30: the soak is done and the ready timer is due
    await app.worker.run_until_idle()
    planned = await thread_of(app, "p")
    assert planned.status == "awaiting_approval"
    card = texts(planned)[-1]
    assert "Release: deployed to staging 30 min ago." in card
    await say(app, "p", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "p")).status == "done"
    assert deployed(tmp_path)[-1] == ("backend", "v1.4.2", "production")
    assert len(calls(tmp_path)) == 2


async def test_a_later_request_for_the_same_version_supersedes_a_when_ready_wait(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    ready = "deploy backend v1.4.2 to production when ready"
    await say(app, "w1", "slack:U0CAROL", ready, new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "w1")).status == "queued"
    await say(app, "w2", "slack:U0ALICE", ready, new=True)
    await app.worker.run_until_idle()
    older = await thread_of(app, "w1")
    assert older.status == "done"
    assert texts(older)[-1].startswith("Stopped waiting: superseded by a later request for")
    assert (await thread_of(app, "w2")).status == "queued"
    clock.advance(30 * 60)
    await app.worker.run_until_idle()  # only the newer wait is planned
    assert (await thread_of(app, "w2")).status == "awaiting_approval"
    assert not [e for e in (await thread_of(app, "w1")).events if isinstance(e, PlanProposed)]


async def test_only_a_named_person_skips_soak_and_no_phrasing_does(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    clock = Clock(START)
    # The negated phrasings are no exact command: they go to the model, which asks.
    asks = [AskHuman(message="Do you want to skip the soak?") for _ in range(3)]
    app = make_app(
        redis, prefix=key_prefix, config_file=setup, clock=clock, agent=ScriptedAgent(asks)
    )
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    for i, text in enumerate(
        [
            "deploy backend v1.4.2 to production don't skip soak",
            "deploy backend v1.4.2 to production skip soak if needed",
            "deploy backend v1.4.2 to production no skip soak please",
        ]
    ):
        await say(app, f"n{i}", "slack:U0ALICE", text, new=True)
    await say(
        app, "c", "slack:U0CAROL", "deploy backend v1.4.2 to production skip soak hotfix", new=True
    )
    await app.worker.run_until_idle()
    carol = texts(await thread_of(app, "c"))[-1]
    assert carol.startswith("Only alice may skip the soak for production.")
    for i in range(3):  # deferred to the model: none of them planned anything
        assert not [e for e in (await thread_of(app, f"n{i}")).events if e.type == "plan_proposed"]

    await say(
        app, "a", "slack:U0ALICE", "deploy backend v1.4.2 to production skip soak INC-7 fix",
        new=True,
    )  # fmt: skip
    await app.worker.run_until_idle()
    thread = await thread_of(app, "a")
    (proposed,) = [e for e in thread.events if isinstance(e, PlanProposed)]
    assert [(o.kind, o.person, o.reason) for o in proposed.plan.overrides] == [
        ("skip_soak", "alice", "INC-7 fix")
    ]
    assert "SKIP SOAK" in texts(thread)[-1]
    assert "by alice: INC-7 fix" in texts(thread)[-1]
    await say(app, "a", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert deployed(tmp_path) == [
        ("backend", "v1.4.2", "staging"),
        ("backend", "v1.4.2", "production"),
    ]


async def test_a_freeze_between_approval_and_run_holds_the_plan_until_it_ends(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    clock.advance(40 * 60)  # 09:40: soaked
    await say(app, "p", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "p")).status == "awaiting_approval"

    clock.advance(25 * 60)  # 10:05: the freeze began after the request was made
    await say(app, "p", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    held = await thread_of(app, "p")
    assert held.status == "queued"
    said = "\n".join(texts(held)[-3:])
    assert "did not run: production is frozen" in said
    assert "change board review" in said
    assert "I will plan it again at 12:00 UTC" in said
    assert len(calls(tmp_path)) == 1
    (awaited,) = [e for e in held.events if isinstance(e, ReleaseAwaited)]
    assert awaited.retry_at == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

    clock.advance(115 * 60)  # 12:00: the freeze is over; proposed again, a new plan
    await app.worker.run_until_idle()
    again = await thread_of(app, "p")
    assert again.status == "awaiting_approval"
    hashes = {e.plan.plan_hash for e in again.events if isinstance(e, PlanProposed)}
    assert len(hashes) == 2
    await say(app, "p", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert deployed(tmp_path)[-1] == ("backend", "v1.4.2", "production")


async def test_break_glass_by_a_named_person_with_approvals_still_needed(
    redis: Redis, key_prefix: str, setup: Path, tmp_path: Path
) -> None:
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=setup, clock=clock)
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    clock.advance(65 * 60)  # 10:05, frozen, soaked
    await say(
        app, "c", "slack:U0CAROL", "deploy backend v1.4.2 to production break glass outage",
        new=True,
    )  # fmt: skip
    await say(app, "n", "slack:U0ALICE", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    assert "production is frozen" in texts(await thread_of(app, "c"))[-1]
    assert "production is frozen" in texts(await thread_of(app, "n"))[-1]
    await say(
        app, "a", "slack:U0ALICE", "deploy backend v1.4.2 to production break glass INC-9", new=True
    )
    await app.worker.run_until_idle()
    thread = await thread_of(app, "a")
    assert thread.status == "awaiting_approval"  # approvals still apply
    assert "BREAK GLASS" in texts(thread)[-1]
    assert "by alice: INC-9" in texts(thread)[-1]
    assert len(calls(tmp_path)) == 1
    await say(app, "a", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert deployed(tmp_path)[-1] == ("backend", "v1.4.2", "production")


async def test_a_held_pair_queues_plans_in_order_with_cancel_and_a_bound(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path)
    add_tag(tmp_path / "repos" / "backend", "v1.4.3", "one more")
    staging = "[environments.staging]\napproval = false\n"
    config.write_text(config.read_text().replace(staging, staging + "queue_max = 2\n"))
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    holder = LockHolder(thread_id="x", who="dave", why="deploy backend v1.4.0", since=START)
    ok, taken = await app.context.env_lock.acquire(
        service="backend", environment="staging", holder=holder, ttl_ms=600_000
    )
    assert ok
    await say(app, "a", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    await say(app, "b", "slack:U0ALICE", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    await say(app, "c", "slack:U0BOB", "deploy backend v1.4.3 to staging", new=True)
    await app.worker.run_until_idle()
    first, second = await thread_of(app, "a"), await thread_of(app, "b")
    assert (first.status, second.status) == ("queued", "queued")
    assert "1st in line, behind deploy backend v1.4.0 by dave" in texts(first)[-1]
    assert "2nd in line, behind backend v1.4.1 by carol" in texts(second)[-1]
    # Judged against the plan ahead of it: what live will be when its turn comes.
    (planned,) = [e.plan for e in second.events if isinstance(e, PlanProposed)]
    assert (planned.previous_version, planned.ahead) == ("v1.4.1", "queued")
    assert "(after v1.4.1, queued ahead)" in planned.describe()
    assert "its line is full (2 plans waiting" in texts(await thread_of(app, "c"))[-1]

    await say(app, "b", "slack:U0BOB", "cancel")  # not the requester, not an approver
    await app.worker.run_until_idle()
    assert texts(await thread_of(app, "b"))[-1] == "Only alice can cancel this; it stays in line."
    assert (await thread_of(app, "b")).status == "queued"
    # 'cancel <plan id>' anywhere: said in the plan's own thread, where its policy decides.
    (queued,) = [e for e in first.events if isinstance(e, DeployQueued)]
    await say(app, "z", "slack:U0ALICE", f"cancel {queued.plan_hash[:4]}", new=True)
    await app.worker.run_until_idle()
    assert "to leave the line, in its own thread" in texts(await thread_of(app, "z"))[-1]
    assert texts(await thread_of(app, "a"))[-1] == "Only carol can cancel this; it stays in line."
    await say(app, "a", "slack:U0CAROL", "cancel")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "a")).status == "done"
    assert "left the line (cancelled by carol)" in texts(await thread_of(app, "a"))[-1]
    assert "is now 1st in line" in texts(await thread_of(app, "b"))[-1]

    assert taken.fencing_token > 0
    await app.context.env_lock.release(
        service="backend", environment="staging", token=taken.fencing_token
    )
    clock.advance(1)
    await app.worker.run_until_idle()
    # The plan ahead left the line: live is not what it was judged against, so it is made
    # again (drift), never run against a state nobody approved.
    ran = await thread_of(app, "b")
    assert len([e for e in ran.events if isinstance(e, PlanProposed)]) == 2
    assert ran.status == "done"
    assert deployed(tmp_path) == [("backend", "v1.4.2", "staging")]
    assert await app.context.line.waiting(service="backend", environment="staging") == []


async def test_a_queued_plan_runs_after_the_one_ahead_without_drift(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path)
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    holder = LockHolder(thread_id="x", who="dave", why="maintenance", since=START)
    ok, taken = await app.context.env_lock.acquire(
        service="backend", environment="staging", holder=holder, ttl_ms=600_000
    )
    assert ok
    await say(app, "a", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    await say(app, "b", "slack:U0ALICE", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    await app.context.env_lock.release(
        service="backend", environment="staging", token=taken.fencing_token
    )
    for _ in range(3):  # a's turn, then b's (the pump sees the pair free each time)
        clock.advance(1)
        await app.worker.run_until_idle()
    assert deployed(tmp_path) == [
        ("backend", "v1.4.1", "staging"),
        ("backend", "v1.4.2", "staging"),
    ]
    b = await thread_of(app, "b")
    assert b.status == "done"
    assert len([e for e in b.events if isinstance(e, PlanProposed)]) == 1  # no drift, no remake


async def test_a_schedule_in_a_freeze_skips_and_the_skip_is_recorded_and_told(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path, tail=FREEZE.replace('"production"', '"staging"'))
    config.write_text(
        config.read_text()
        + """
[[schedules]]
name = "tick"
cron = "*/30 * * * *"
instruction = "deploy backend to staging"
report_to = "slack:C0DEPLOYS"
"""
    )
    clock = Clock(datetime(2026, 11, 2, 9, 50, tzinfo=UTC))
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    await app.scheduler.tick()  # the first clock starts from now
    clock.advance(10 * 60 + 30)  # 10:00:30: the 10:00 run falls in the freeze
    (skipped,) = await app.scheduler.tick()
    await app.worker.run_until_idle()
    thread = await thread_of(app, skipped)
    assert thread.origin.kind == "schedule"
    assert "staging is frozen" in texts(thread)[-1]
    assert "change board review" in texts(thread)[-1]
    audit = [e for e in thread.events if e.type == "error_recorded"]
    assert [e.kind for e in audit] == ["refused"]  # type: ignore[attr-defined]
    assert calls(tmp_path) == []
    clock.advance(60 * 60)  # 11:00:30: the 11:00 run, still frozen
    (frozen,) = await app.scheduler.tick()
    await app.worker.run_until_idle()
    assert "staging is frozen" in texts(await thread_of(app, frozen))[-1]
    clock.advance(60 * 60)  # 12:00:30: the 12:00 run is after the freeze
    (ran,) = await app.scheduler.tick()
    await app.worker.run_until_idle()
    assert (await thread_of(app, ran)).status == "done"
    assert deployed(tmp_path) == [("backend", "v1.4.2", "staging")]
