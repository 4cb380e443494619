"""Announcements through next_step (pure): a deploy's result and its verification's verdict
are announced in the same step as the thread's own message about them (so in the same
save), each replacing the deploy's first announcement; a failed verification's rollback
intent stays last; the bot's rollback, once done, also marks the deploy it undid as rolled
back; without an ``announce`` route the steps are as before."""

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.loop.next_step import Apply, next_step
from bot.core.release.announcements import announce
from bot.core.thread.events import (
    DeployFinished,
    DeployStarted,
    Event,
    IntentChosen,
    MessageSent,
    PlanProposed,
    UserMessage,
    VerificationFinished,
)
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ROUTE = "slack:C0RELEASES"
_n = count(1)


def new_id() -> str:
    return f"n{next(_n)}"


def config(announce_to: str | None) -> Config:
    line = f'announce = "{announce_to}"' if announce_to else ""
    return parse_config(
        f"""
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{{version}}"]
environments = ["staging"]
[environments.staging]
verify_s = 12
checks = [{{ http = "https://api.example.com/healthz" }}]
{line}
""",
        base_dir=Path("/srv"),
    )


DEPLOY = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.4.2",
    sha="a" * 40,
    previous_version="v1.4.1",
    requester="carol",
)
BACK = Plan(
    kind="rollback",
    service="backend",
    environment="staging",
    version="v1.4.1",
    sha="b" * 40,
    previous_version="v1.4.2",
    requester="carol",
)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def run(thread: Thread, cfg: Config, plan: Plan, minute: float) -> MessageSent | None:
    """``plan`` proposed and started, as the shell saves it: its start message and (where
    one is configured) its start announcement. Returns the announcement."""
    start = DeployStarted(
        id=new_id(), at=at(minute), plan_hash=plan.plan_hash, idempotency_key="k", fencing_token=1
    )
    told = announce(thread, config=cfg, plan=plan, moment="started", now=start.at, new_id=new_id)
    progress = MessageSent(id=new_id(), at=at(minute), text="Deploying ...", purpose="progress")
    thread.events += [start, progress, *told]
    return told[0] if told else None


def done(plan: Plan, result: str, minute: float) -> DeployFinished:
    return DeployFinished(
        id=new_id(),
        at=at(minute),
        plan_hash=plan.plan_hash,
        result=result,
        exit_code=0,
        duration_s=30,
        output_tail="",
    )


def deployed(cfg: Config) -> tuple[Thread, MessageSent | None]:
    thread = Thread(
        id="t", origin=SlackOrigin(channel="C0DEPLOYS", thread_ts="1.1"), created_at=NOW
    )
    thread.events += [
        UserMessage(id=new_id(), at=NOW, actor="slack:U0CAROL", text="deploy backend to staging"),
        IntentChosen(
            id=new_id(),
            at=NOW,
            intent=Deploy(service="backend", environment="staging"),
            source="grammar",
        ),
        PlanProposed(id=new_id(), at=NOW, plan=DEPLOY),
    ]
    first = run(thread, cfg, DEPLOY, 0)
    return thread, first


def step(thread: Thread, cfg: Config, minute: float) -> list[Event]:
    result = next_step(thread, config=cfg, now=at(minute), new_id=new_id)
    assert isinstance(result, Apply), result
    return result.events


def routed(events: list[Event]) -> list[MessageSent]:
    return [e for e in events if isinstance(e, MessageSent) and e.route is not None]


@pytest.mark.parametrize("result", ["succeeded", "failed", "timed_out"])
def test_a_result_is_announced_with_the_threads_own_message(result: str) -> None:
    cfg = config(ROUTE)
    thread, first = deployed(cfg)
    assert first is not None
    assert first.route == ROUTE
    thread.events.append(done(DEPLOY, result, 1))
    events = step(thread, cfg, 1)
    said, told = events
    assert isinstance(said, MessageSent)
    assert said.route is None
    assert said.purpose == "result"
    assert isinstance(told, MessageSent)
    assert (told.route, told.replaces) == (ROUTE, first.id)


@pytest.mark.parametrize("result", ["succeeded", "failed", "timed_out"])
def test_without_announce_a_result_is_only_the_threads_message(result: str) -> None:
    cfg = config(None)
    thread, first = deployed(cfg)
    assert first is None
    thread.events.append(done(DEPLOY, result, 1))
    [said] = step(thread, cfg, 1)
    assert isinstance(said, MessageSent)
    assert said.route is None


def test_a_verified_deploy_is_announced_as_verified() -> None:
    cfg = config(ROUTE)
    thread, first = deployed(cfg)
    assert first is not None
    thread.events += [
        done(DEPLOY, "succeeded", 1),
        VerificationFinished(
            id=new_id(), at=at(2), plan_hash=DEPLOY.plan_hash, result="verified", summary="ok"
        ),
    ]
    said, told = step(thread, cfg, 2)
    assert isinstance(said, MessageSent)
    assert said.text == "ok"
    assert isinstance(told, MessageSent)
    assert told.replaces == first.id
    assert told.text.startswith("Deployed backend v1.4.2 (aaaaaaa) to staging and verified at")


def test_a_superseded_verification_announces_nothing() -> None:
    cfg = config(ROUTE)
    thread, _first = deployed(cfg)
    thread.events += [
        done(DEPLOY, "succeeded", 1),
        VerificationFinished(
            id=new_id(), at=at(2), plan_hash=DEPLOY.plan_hash, result="superseded", summary="s"
        ),
    ]
    assert routed(step(thread, cfg, 2)) == []


def test_a_failed_verification_is_announced_before_the_rollback_it_chooses() -> None:
    cfg = config(ROUTE)
    thread, first = deployed(cfg)
    assert first is not None
    thread.events += [
        done(DEPLOY, "succeeded", 1),
        VerificationFinished(
            id=new_id(), at=at(2), plan_hash=DEPLOY.plan_hash, result="failed", summary="down"
        ),
    ]
    events = step(thread, cfg, 2)
    [told] = routed(events)
    assert told.replaces == first.id
    assert "verification FAILED at 09:02 UTC" in told.text
    last = events[-1]
    assert isinstance(last, IntentChosen)
    assert isinstance(last.intent, Rollback)


def test_the_bots_rollback_announces_itself_and_marks_the_deploy_rolled_back() -> None:
    cfg = config(ROUTE)
    thread, first = deployed(cfg)
    assert first is not None
    thread.events += [done(DEPLOY, "succeeded", 1)]
    thread.events += [
        VerificationFinished(
            id=new_id(), at=at(2), plan_hash=DEPLOY.plan_hash, result="failed", summary="down"
        )
    ]
    thread.events += step(thread, cfg, 2)  # ... its announcement, then the rollback intent
    thread.events.append(PlanProposed(id=new_id(), at=at(3), plan=BACK))
    back = run(thread, cfg, BACK, 3)
    assert back is not None
    assert back.replaces is None
    thread.events.append(done(BACK, "succeeded", 4))

    _said, own, undone = step(thread, cfg, 4)
    assert isinstance(own, MessageSent)
    assert isinstance(undone, MessageSent)
    assert own.replaces == back.id
    assert own.text.startswith("Rolled back backend in staging to v1.4.1 (bbbbbbb): finished")
    assert undone.replaces == first.id
    assert undone.text.startswith(
        "Deployed backend v1.4.2 (aaaaaaa) to staging; its verification failed and it was "
        "rolled back to v1.4.1 at 09:04 UTC."
    )
