"""``bot.shell.verify.after_deploy.Verification`` on its own, against fakes: the "Verifying"
message is saved and handed out before the checks run; a pass decides nothing more; a
failure quarantines the commit before the thread hears of it; a verification superseded by
a newer deploy of the pair decides nothing; an environment without checks is not verified."""

from datetime import UTC, datetime

from bot.core.policy.verification import CheckFailure, Verified, VerifyFailed
from bot.core.thread.events import MessageSent, VerificationFinished, VersionQuarantined
from bot.core.thread.thread import Thread
from bot.shell.verify.after_deploy import Verification
from bot.shell.world.context import Context
from tests.fakes.shell import FakeVerifier, fake_context
from tests.unit.shell.deploy.test_execution import PLAN, thread_with_plan

AT = datetime(2026, 11, 2, 8, 40, tzinfo=UTC)
PASSED = Verified(checks=1, verify_s=60, rounds=4, text="backend v1.1.0 verified")
FAILED = VerifyFailed(
    failures=(CheckFailure(check="./smoke.sh", reason="exit 1", failures_in_a_row=3),),
    after_s=45,
    rounds=3,
    text="backend v1.1.0 failed verification: ./smoke.sh exit 1",
)


async def deployed(context: Context) -> Thread:
    """The plan's deploy is the pair's newest started; its thread saved."""
    key = f"t1:{PLAN.plan_hash}"
    await context.history.started(PLAN, idempotency_key=key, at=AT)
    thread = thread_with_plan()
    await context.store.save(thread)
    return thread


async def test_a_pass_is_said_and_decides_nothing_more() -> None:
    context, _ = fake_context()
    thread = await deployed(context)
    verifier = FakeVerifier(outcome=PASSED, progress=["1 of 1 checks green"])
    published: set[str] = set()
    events = await Verification(context=context, verifier=verifier).run(  # type: ignore[arg-type]
        thread, PLAN, published=published
    )
    assert verifier.asked == 1
    assert [type(e) for e in events] == [VerificationFinished]
    finished = events[0]
    assert isinstance(finished, VerificationFinished)
    assert finished.result == "verified"
    start = [e for e in thread.events if isinstance(e, MessageSent)]
    assert len(start) == 1
    assert published == {start[0].id}
    assert finished.message_id == start[0].id
    saved = await context.store.load("t1")
    assert saved is not None
    assert saved.has_event(start[0].id)
    assert await context.quarantine.of(service="backend", environment="staging") == {}


async def test_a_failure_quarantines_the_commit_before_the_thread_hears() -> None:
    context, _ = fake_context()
    thread = await deployed(context)
    events = await Verification(context=context, verifier=FakeVerifier(outcome=FAILED)).run(  # type: ignore[arg-type]
        thread, PLAN, published=set()
    )
    assert [type(e) for e in events] == [VersionQuarantined, VerificationFinished]
    quarantined, finished = events
    assert isinstance(quarantined, VersionQuarantined)
    assert quarantined.by == "verification"
    assert isinstance(finished, VerificationFinished)
    assert finished.result == "failed"
    banned = await context.quarantine.of(service="backend", environment="staging")
    assert [(q.version, q.sha, q.by) for q in banned.values()] == [
        ("v1.1.0", PLAN.sha, "verification")
    ]


async def test_a_newer_deploy_of_the_pair_supersedes_it_and_nothing_is_decided() -> None:
    context, _ = fake_context()
    thread = await deployed(context)
    newer = PLAN.model_copy(update={"version": "v1.2.0", "sha": "d" * 40})
    await context.history.started(
        newer, idempotency_key=f"t2:{newer.plan_hash}", at=AT.replace(minute=41)
    )
    events = await Verification(context=context, verifier=FakeVerifier(outcome=FAILED)).run(  # type: ignore[arg-type]
        thread, PLAN, published=set()
    )
    assert [type(e) for e in events] == [VerificationFinished]
    finished = events[0]
    assert isinstance(finished, VerificationFinished)
    assert finished.result == "superseded"
    assert "v1.2.0" in finished.summary
    assert await context.quarantine.of(service="backend", environment="staging") == {}


async def test_an_environment_without_checks_is_not_verified() -> None:
    context, _ = fake_context()
    thread = await deployed(context)
    verifier = FakeVerifier(outcome=FAILED)
    plan = PLAN.model_copy(update={"environment": "production"})
    events = await Verification(context=context, verifier=verifier).run(  # type: ignore[arg-type]
        thread, plan, published=set()
    )
    assert events == []
    assert verifier.asked == 0
    assert not [e for e in thread.events if isinstance(e, MessageSent)]
