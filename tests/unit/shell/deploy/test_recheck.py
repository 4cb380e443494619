"""``bot.shell.deploy.recheck.LiveCheck`` on its own, against fakes: just before a plan runs,
under its lock, the tags are read again (not from the cache) and the history and quarantine
asked; a plan whose world changed does not run and is made again for a fresh approval, one
whose commit was quarantined meanwhile or whose tags cannot be read is refused, not remade."""

from datetime import UTC, datetime

from bot.core.errors import ToolFailed
from bot.core.thread.events import ErrorRecorded, MessageSent, PlanProposed
from bot.core.thread.plan import DeployRecord, Quarantined, Tag
from bot.shell.deploy.recheck import LiveCheck
from bot.shell.world.context import Context
from tests.fakes.shell import FakeLookups, fake_context
from tests.unit.shell.deploy.test_execution import PLAN, SHA, TAGS, thread_with_plan

AT = datetime(2026, 11, 2, 8, 50, tzinfo=UTC)


def check(context: Context, lookups: FakeLookups) -> LiveCheck:
    return LiveCheck(context=context, lookups=lookups)  # type: ignore[arg-type]


def plans_again(events: list[object]) -> list[PlanProposed]:
    return [e for e in events if isinstance(e, PlanProposed)]


def said(events: list[object]) -> str:
    return " ".join(e.text for e in events if isinstance(e, MessageSent))


async def test_an_unchanged_world_lets_the_plan_run_after_reading_the_tags_again() -> None:
    context, _ = fake_context()
    lookups = FakeLookups(tags=TAGS)
    assert await check(context, lookups).drift(thread_with_plan(), PLAN) is None
    assert lookups.reads == 1


async def test_a_deploy_since_the_plan_makes_it_again_against_what_is_live() -> None:
    context, _ = fake_context()
    live = DeployRecord(
        thread_id="t7",
        kind="deploy",
        version="v1.0.9",
        sha="9" * 40,
        requester="dave",
        result="succeeded",
        at=AT.isoformat(),
    )
    await context.history.record(service="backend", environment="staging", record=live)
    tags = [*TAGS, Tag(name="v1.0.9", sha="9" * 40)]
    events = await check(context, FakeLookups(tags=tags)).drift(thread_with_plan(), PLAN)
    assert events is not None
    assert f"Plan #{PLAN.short_id} did not run" in said(events)
    assert "v1.0.9" in said(events)
    [again] = plans_again(events)
    assert again.plan.previous_version == "v1.0.9"
    assert again.plan.sha == SHA
    assert again.plan.plan_hash != PLAN.plan_hash


async def test_a_commit_quarantined_since_approval_is_refused_and_not_remade() -> None:
    context, _ = fake_context()
    entry = Quarantined(
        version="v1.1.0",
        sha=SHA,
        by="verification",
        reason="5xx",
        at=AT.isoformat(),
    )
    await context.quarantine.add(service="backend", environment="staging", entry=entry)
    events = await check(context, FakeLookups(tags=TAGS)).drift(thread_with_plan(), PLAN)
    assert events is not None
    assert plans_again(events) == []
    assert f"Plan #{PLAN.short_id} did not run" in said(events)
    assert "quarantined" in said(events)


async def test_tags_that_cannot_be_read_refuse_the_plan_without_remaking_it() -> None:
    context, _ = fake_context()
    lookups = FakeLookups(tags=TAGS, error=ToolFailed("git ls-remote: timed out"))
    events = await check(context, lookups).drift(thread_with_plan(), PLAN)
    assert events is not None
    assert plans_again(events) == []
    assert "could not re-read backend's tags" in said(events)
    assert not [e for e in events if isinstance(e, ErrorRecorded)]
