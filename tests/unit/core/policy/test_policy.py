"""Approval policy tables: who may decide which plan, and when."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.config.config import parse_config
from bot.core.policy.approval import (
    Allowed,
    Refused,
    check_decision,
    check_requester,
    eligible_approvers,
    has_quorum,
)
from bot.core.thread.events import ApprovalRequested
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
[people.alice]
slack = "U0ALICE"
email = "alice@example.com"
[people.bob]
slack = "U0BOB"
[people.carol]
slack = "U0CAROL"
[people.erin]
email = "erin@example.com"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production", "sandbox", "bank"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
[environments.sandbox]
approval = true
approvers = ["alice", "carol"]
self_approval = true
[environments.bank]
approval = true
approvers = ["alice", "bob", "erin"]
min_approvals = 2
""",
    base_dir=Path("/srv"),
)


def open_request(
    env: str, requester: str, *, approved_by: tuple[str, ...] = (), expires_in_s: float = 3600
) -> OpenApproval:
    plan = Plan(
        kind="deploy",
        service="backend",
        environment=env,
        version="v1",
        sha="a" * 40,
        requester=requester,
    )
    request = ApprovalRequested(
        id="r",
        at=NOW,
        plan_hash=plan.plan_hash,
        approvers=["alice", "bob"],
        min_approvals=1,
        expires_at=NOW + timedelta(seconds=expires_in_s),
    )
    return OpenApproval(plan=plan, request=request, approved_by=list(approved_by))


CASES = [
    # env, requester, actor, decision, expires_in_s, approved_by, expected (None = allowed)
    ("production", "carol", "slack:U0ALICE", "approve", 3600, (), None),
    ("production", "carol", "email:ALICE@example.com", "approve", 3600, (), None),
    ("production", "carol", "terminal:bob", "approve", 3600, (), None),
    ("production", "carol", "slack:U0CAROL", "approve", 3600, (), "carol can't approve"),
    ("production", "carol", "slack:U0NOBODY", "approve", 3600, (), "U0NOBODY is not in"),
    ("production", "carol", "email:erin@example.com", "approve", 3600, (), "erin can't approve"),
    ("production", "alice", "slack:U0ALICE", "approve", 3600, (), "alice asked for this"),
    ("production", "alice", "email:alice@example.com", "approve", 3600, (), "alice asked"),
    ("production", "carol", "slack:U0ALICE", "approve", 0, (), "expired at 09:00 UTC"),
    ("production", "carol", "slack:U0ALICE", "approve", -60, (), "expired"),
    ("production", "carol", "slack:U0BOB", "reject", 3600, (), None),
    ("production", "carol", "slack:U0CAROL", "reject", 3600, (), None),  # withdraw own request
    ("production", "carol", "email:erin@example.com", "reject", 3600, (), "erin can't reject"),
    ("sandbox", "carol", "slack:U0CAROL", "approve", 3600, (), None),  # self-approval allowed
    ("bank", "carol", "slack:U0ALICE", "approve", 3600, (), None),
    ("bank", "carol", "email:erin@example.com", "approve", 3600, ("alice",), None),
    ("bank", "carol", "slack:U0ALICE", "approve", 3600, ("alice",), "already approved"),
    ("bank", "schedule:nightly", "slack:U0BOB", "approve", 3600, (), None),
]


@pytest.mark.parametrize(
    ("env", "requester", "actor", "decision", "expires_in_s", "approved_by", "expected"), CASES
)
def test_check_decision(
    env: str,
    requester: str,
    actor: str,
    decision: str,
    expires_in_s: float,
    approved_by: tuple[str, ...],
    expected: str | None,
) -> None:
    verdict = check_decision(
        config=CONFIG,
        open_approval=open_request(
            env, requester, approved_by=approved_by, expires_in_s=expires_in_s
        ),
        actor=Actor(actor),
        decision=decision,
        now=NOW,  # type: ignore[arg-type]
    )
    if expected is None:
        assert verdict == Allowed()
    else:
        assert isinstance(verdict, Refused)
        assert expected in verdict.reason


@pytest.mark.parametrize(
    ("env", "requester", "expected"),
    [
        ("production", "carol", ["alice", "bob"]),
        ("production", "alice", ["bob"]),
        ("sandbox", "carol", ["alice", "carol"]),
        ("bank", "erin", ["alice", "bob"]),
    ],
)
def test_eligible_approvers(env: str, requester: str, expected: list[str]) -> None:
    assert eligible_approvers(CONFIG.environments[env], requester=requester) == expected


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        ("slack:U0CAROL", True),
        ("email:erin@example.com", True),
        ("terminal:bob", True),
        ("api:alice", True),
        ("schedule:nightly", True),
        ("webhook:ci", True),
        ("slack:U0MALLORY", False),
        ("terminal:mallory", False),
        ("email:x@evil.example", False),
    ],
)
def test_only_known_people_and_triggers_may_request(actor: str, allowed: bool) -> None:
    assert isinstance(check_requester(CONFIG, actor=Actor(actor)), Allowed) is allowed


@pytest.mark.parametrize(
    ("min_approvals", "approved_by", "expected"),
    [
        (1, (), False),
        (1, ("alice",), True),
        (2, ("alice",), False),
        (2, ("alice", "alice"), False),  # one person approving twice counts once
        (2, ("alice", "bob"), True),
        (2, ("alice", "bob", "erin"), True),
        (3, ("alice", "bob"), False),
    ],
)
def test_has_quorum(min_approvals: int, approved_by: tuple[str, ...], expected: bool) -> None:
    request = open_request("bank", "carol", approved_by=approved_by)
    counted = request.model_copy(
        update={"request": request.request.model_copy(update={"min_approvals": min_approvals})}
    )
    assert has_quorum(counted) is expected
