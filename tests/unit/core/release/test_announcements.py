"""bot/core/release/announcements.py (pure): every moment of a deploy, with and without an
``announce`` route, and from an origin that already is the route (no second copy); each
later announcement replaces the deploy's first one, and the first one is found past an
approval channel's copies and never in another deploy."""

from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import get_args

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.release.announcements import Moment, announce, announce_route, first_announcement
from bot.core.thread.events import (
    ApprovalDecided,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    Event,
    MessageSent,
    PlanProposed,
    VerificationFinished,
)
from bot.core.thread.origin import (
    ApiOrigin,
    EmailOrigin,
    Origin,
    ScheduleOrigin,
    SlackOrigin,
    TerminalOrigin,
)
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.thread.thread import Thread

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_n = count(1)


def new_id() -> str:
    return f"n{next(_n)}"


def config(announce: str | None, *, approval_channel: str | None = None) -> Config:
    lines = "\n".join(
        f'{key} = "{value}"'
        for key, value in (("announce", announce), ("approval_channel", approval_channel))
        if value is not None
    )
    return parse_config(
        f"""
[people.alice]
slack = "U0ALICE"
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{{version}}"]
environments = ["production"]
[environments.production]
approval = true
approvers = ["alice"]
verify_s = 600
checks = [{{ http = "https://api.example.com/healthz" }}]
{lines}
""",
        base_dir=Path("/srv"),
    )


def make_plan(kind: str = "deploy", version: str = "v1.4.2", previous: str = "v1.4.1") -> Plan:
    return Plan(
        kind=kind,
        service="backend",
        environment="production",
        version=version,
        sha=("a" if kind == "deploy" else "b") * 40,
        previous_version=previous,
        requester="carol",
    )


PLAN = make_plan()
BACK = make_plan("rollback", version="v1.4.1", previous="v1.4.2")


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def started(thread: Thread, cfg: Config, plan: Plan, minute: float) -> None:
    """``plan`` proposed, approved and started in ``thread``, with its start announcement."""
    thread.events += [
        PlanProposed(id=new_id(), at=at(minute), plan=plan, evidence=None),
        ApprovalDecided(
            id=new_id(),
            at=at(minute),
            plan_hash=plan.plan_hash,
            actor="slack:U0ALICE",
            person="alice",
            decision="approve",
        ),
    ]
    start = DeployStarted(
        id=new_id(), at=at(minute), plan_hash=plan.plan_hash, idempotency_key="k", fencing_token=1
    )
    told = announce(thread, config=cfg, plan=plan, moment="started", now=start.at, new_id=new_id)
    thread.events += [start, *told]


def finished(plan: Plan, result: str, minute: float) -> DeployFinished:
    return DeployFinished(
        id=new_id(),
        at=at(minute),
        plan_hash=plan.plan_hash,
        result=result,
        exit_code=0 if result == "succeeded" else 1,
        duration_s=60,
        output_tail="",
    )


def verdict(plan: Plan, result: str, minute: float) -> VerificationFinished:
    return VerificationFinished(
        id=new_id(),
        at=at(minute),
        plan_hash=plan.plan_hash,
        result=result,
        summary=f"Verification of backend {plan.version} in production {result}.",
    )


def at_moment(moment: Moment) -> list[Event]:
    """What the thread holds after the start when ``moment`` is announced."""
    match moment:
        case "started":
            return []
        case "succeeded" | "failed" | "timed_out":
            return [finished(PLAN, moment, 1)]
        case "interrupted":
            return [DeployInterrupted(id=new_id(), at=at(5), plan_hash=PLAN.plan_hash)]
        case "verified":
            return [finished(PLAN, "succeeded", 1), verdict(PLAN, "verified", 11)]
        case "verification_failed" | "rolled_back":
            return [finished(PLAN, "succeeded", 1), verdict(PLAN, "failed", 11)]


HEADLINE: dict[Moment, str] = {
    "started": "Deploying backend v1.4.2 (aaaaaaa) to production, from v1.4.1: started 09:00 UTC.",
    "succeeded": "Deployed backend v1.4.2 (aaaaaaa) to production: finished 09:01 UTC, after 60 s."
    " Verifying with 1 check for 10 min.",
    "failed": "Deploy of backend v1.4.2 (aaaaaaa) to production FAILED at 09:01 UTC",
    "timed_out": "Deploy of backend v1.4.2 (aaaaaaa) to production TIMED OUT and was stopped at "
    "09:01 UTC",
    "interrupted": "Deploy of backend v1.4.2 (aaaaaaa) to production: outcome unknown at "
    "09:20 UTC.",
    "verified": "Deployed backend v1.4.2 (aaaaaaa) to production and verified at 09:11 UTC",
    "verification_failed": "Deployed backend v1.4.2 (aaaaaaa) to production, but its "
    "verification FAILED at 09:11 UTC",
    "rolled_back": "Deployed backend v1.4.2 (aaaaaaa) to production; its verification failed and "
    "it was rolled back to v1.4.1 at 09:14 UTC.",
}

ROUTES: list[tuple[str | None, Origin, str | None]] = [
    ("slack:C0RELEASES", ApiOrigin(), "slack:C0RELEASES"),
    ("slack:C0RELEASES", TerminalOrigin(session="s"), "slack:C0RELEASES"),
    (None, ApiOrigin(), None),
    (None, SlackOrigin(channel="C0DEPLOYS", thread_ts="1.2"), None),
    ("slack:C0RELEASES", SlackOrigin(channel="C0RELEASES", thread_ts="1.2"), None),
    ("slack:C0RELEASES", SlackOrigin(channel="C0DEPLOYS", thread_ts="1.2"), "slack:C0RELEASES"),
    ("slack:C0RELEASES", ScheduleOrigin(name="nightly", report_to="slack:C0RELEASES"), None),
    ("slack:C0RELEASES", ScheduleOrigin(name="nightly"), "slack:C0RELEASES"),
    ("email:ops@example.com", EmailOrigin(address="Ops@example.com", subject="s"), None),
    (
        "email:ops@example.com,dev@example.com",
        EmailOrigin(address="ops@example.com", subject="s"),
        "email:dev@example.com",
    ),
    (
        "email:ops@example.com",
        SlackOrigin(channel="C0DEPLOYS", thread_ts="1"),
        "email:ops@example.com",
    ),
    ("slack:C0RELEASES", EmailOrigin(address="ops@example.com", subject="s"), "slack:C0RELEASES"),
]


@pytest.mark.parametrize("moment", get_args(Moment))
@pytest.mark.parametrize(("route", "origin", "expected"), ROUTES)
def test_every_moment_is_announced_once_where_the_thread_does_not_already_go(
    moment: Moment, route: str | None, origin: Origin, expected: str | None
) -> None:
    cfg = config(route)
    thread = Thread(id="t", origin=origin, created_at=NOW)
    started(thread, cfg, PLAN, 0)
    first = [e for e in thread.events if isinstance(e, MessageSent)]
    thread.events += at_moment(moment)
    if moment == "rolled_back":
        started(thread, cfg, BACK, 12)
        thread.events.append(finished(BACK, "succeeded", 14))

    told = announce(thread, config=cfg, plan=PLAN, moment=moment, now=at(20), new_id=new_id)

    if expected is None:
        assert told == []
        assert first == []  # nor was the start announced
        return
    [message] = told
    assert (message.route, message.purpose, message.to, message.card) == (
        expected,
        "info",
        None,
        None,
    )
    assert message.replaces == (None if moment == "started" else first[0].id)
    assert message.text.startswith(HEADLINE[moment])
    assert "\nAsked by carol; approved by alice." in message.text


@pytest.mark.parametrize(("route", "origin", "expected"), ROUTES)
def test_announce_route(route: str | None, origin: Origin, expected: str | None) -> None:
    thread = Thread(id="t", origin=origin, created_at=NOW)
    assert announce_route(thread, config(route).environments["production"]) == expected


def test_the_first_announcement_is_found_past_the_approval_channels_copies() -> None:
    """The approval channel is the announce channel: the request's copy there is closed at
    the start (it replaces the copy) and is not the deploy's announcement."""
    cfg = config("slack:C0RELEASES", approval_channel="slack:C0RELEASES")
    thread = Thread(id="t", origin=ApiOrigin(), created_at=NOW)
    copy = MessageSent(
        id="copy", at=NOW, text="Plan #...", purpose="approval_request", route="slack:C0RELEASES"
    )
    start = DeployStarted(
        id="s", at=NOW, plan_hash=PLAN.plan_hash, idempotency_key="k", fencing_token=1
    )
    closed = MessageSent(
        id="closed", at=NOW, text="Approved.", purpose="info", route=copy.route, replaces="copy"
    )
    thread.events += [PlanProposed(id="p", at=NOW, plan=PLAN), copy, start, closed]
    [told] = announce(thread, config=cfg, plan=PLAN, moment="started", now=NOW, new_id=new_id)
    thread.events.append(told)
    thread.events.append(finished(PLAN, "succeeded", 1))
    assert first_announcement(thread, plan_hash=PLAN.plan_hash, route="slack:C0RELEASES") == told.id
    [result] = announce(thread, config=cfg, plan=PLAN, moment="succeeded", now=NOW, new_id=new_id)
    assert result.replaces == told.id


def test_a_deploy_without_a_start_announcement_opens_its_own() -> None:
    """A deploy started before announcements (or before ``announce`` was set) is announced
    from its result on; it never replaces an earlier deploy's announcement."""
    cfg = config("slack:C0RELEASES")
    thread = Thread(id="t", origin=ApiOrigin(), created_at=NOW)
    started(thread, cfg, PLAN, 0)
    earlier = thread.events[-1]
    thread.events += [
        finished(PLAN, "succeeded", 1),
        PlanProposed(id=new_id(), at=at(2), plan=BACK),
        DeployStarted(
            id=new_id(), at=at(2), plan_hash=BACK.plan_hash, idempotency_key="k2", fencing_token=2
        ),
        finished(BACK, "failed", 3),
    ]
    route = "slack:C0RELEASES"
    assert first_announcement(thread, plan_hash=BACK.plan_hash, route=route) is None
    assert first_announcement(thread, plan_hash=PLAN.plan_hash, route=route) == earlier.id
    [told] = announce(thread, config=cfg, plan=BACK, moment="failed", now=at(3), new_id=new_id)
    assert told.replaces is None
    assert told.text.startswith(
        "Rollback of backend in production to v1.4.1 (bbbbbbb) FAILED at 09:03 UTC, after 60 s "
        "(exit 1).\nAsked by carol."
    )


def test_the_evidence_recorded_with_the_plan_is_announced() -> None:
    cfg = config("slack:C0RELEASES")
    commit = CommitInfo(sha="a" * 40, subject="fix login timeout", author="Test")
    evidence = Evidence(live_version="v1.4.1", requester="carol", commits_total=2, commits=[commit])
    thread = Thread(
        id="t",
        origin=ApiOrigin(),
        created_at=NOW,
        events=[PlanProposed(id="p", at=NOW, plan=PLAN, evidence=evidence)],
    )
    [told] = announce(thread, config=cfg, plan=PLAN, moment="started", now=NOW, new_id=new_id)
    assert told.text.splitlines()[1:] == [
        "Asked by carol.",
        "2 commits from v1.4.1 to v1.4.2:",
        "  aaaaaaa fix login timeout (Test)",
        "  ... and 1 more",
    ]


def test_an_environment_gone_from_the_config_announces_nothing() -> None:
    plan = PLAN.model_copy(update={"environment": "qa"})
    thread = Thread(id="t", origin=ApiOrigin(), created_at=NOW)
    cfg = config("slack:C0RELEASES")
    assert announce(thread, config=cfg, plan=plan, moment="started", now=NOW, new_id=new_id) == []


def test_a_rollback_is_not_said_to_be_verified_next() -> None:
    """Only deploys are verified after they finish (bot/core/policy/timers.py)."""
    cfg = config("slack:C0RELEASES")
    thread = Thread(id="t", origin=ApiOrigin(), created_at=NOW)
    started(thread, cfg, BACK, 0)
    thread.events.append(finished(BACK, "succeeded", 1))
    [told] = announce(thread, config=cfg, plan=BACK, moment="succeeded", now=NOW, new_id=new_id)
    assert told.text.splitlines()[0] == (
        "Rolled back backend in production to v1.4.1 (bbbbbbb): finished 09:01 UTC, after 60 s."
    )
