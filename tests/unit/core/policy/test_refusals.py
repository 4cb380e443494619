"""Policy refuses with reasons as data: each check's refusal carries the facts (who, which
environment, who holds the lock, which plan, who may decide), never a sentence; whether a
refusal is stale (the API answers 409, not 403) follows from the reason. The words:
tests/unit/core/wording/test_refusal_words.py."""

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Literal

import pytest

from bot.core.config.config import parse_config
from bot.core.policy.approval import (
    Allowed,
    Refused,
    check_decision,
    check_requester,
    check_scope,
)
from bot.core.policy.lock import (
    check_frozen,
    check_release,
    check_release_interrupted,
    check_unlock,
)
from bot.core.thread.intents import Deploy
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.refusals import (
    AlreadyApproved,
    EnvironmentLocked,
    NobodyMayRelease,
    NotAnApprover,
    NotAPerson,
    NotItsEnvironment,
    OwnRequest,
    PlanExpired,
    ReleaseInterruptedNotAllowed,
    ReleaseNotAllowed,
    ReleaseWithoutReason,
    UnknownRequester,
    UnknownService,
    UnlockNotAllowed,
)
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval
from tests.unit.core.loop.test_approvals_escalation import decided
from tests.unit.core.loop.test_loop import NOW, PLAN
from tests.unit.core.policy.test_approvals import asked, thread

CONFIG = parse_config(
    """
[people.alice]
slack = "U0ALICE"
[people.bob]
slack = "U0BOB"
[people.carol]
slack = "U0CAROL"
[people.dave]
slack = "U0DAVE"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh"]
environments = ["staging", "qa", "production"]
[environments.staging]
[environments.qa]
release_by = ["carol"]
[environments.production]
approval = true
approvers = ["alice", "bob", "carol"]
""",
    base_dir=Path("/srv"),
)


def open_approval(*decisions: tuple[str, Literal["approve", "reject"]]) -> OpenApproval:
    found = thread(ApiOrigin(), *asked(), *(decided(p, d) for p, d in decisions)).open_approval()
    assert found is not None
    return found


def decide(actor: str, *, later_s: int = 60, approved_by: str | None = None) -> object:
    found = open_approval(*([(approved_by, "approve")] if approved_by else []))
    return check_decision(
        config=CONFIG,
        open_approval=found,
        actor=Actor(actor),
        decision="approve",
        now=NOW + timedelta(seconds=later_s),
    )


CASES: list[tuple[str, Callable[[], object], object]] = [
    (
        "unknown requester",
        lambda: check_requester(CONFIG, actor=Actor("slack:U0MALLORY")),
        UnknownRequester(who="U0MALLORY"),
    ),
    (
        "unknown requester asking to lock",
        lambda: check_requester(CONFIG, actor=None, asking="lock environments"),
        UnknownRequester(who="unknown", asking="lock environments"),
    ),
    ("known requester", lambda: check_requester(CONFIG, actor=Actor("slack:U0BOB")), None),
    ("decider not a person", lambda: decide("slack:U0MALLORY"), NotAPerson(who="U0MALLORY")),
    (
        "expired",
        lambda: decide("slack:U0ALICE", later_s=3600),
        PlanExpired(plan_short_id=PLAN.short_id, expires_at=NOW + timedelta(hours=1)),
    ),
    (
        "not an approver",
        lambda: decide("slack:U0DAVE"),
        NotAnApprover(
            person="dave",
            decision="approve",
            environment="production",
            approvers=("alice", "bob", "carol"),
        ),
    ),
    (
        "own request",
        lambda: decide("slack:U0CAROL"),
        OwnRequest(person="carol", environment="production"),
    ),
    (
        "approved twice",
        lambda: decide("slack:U0ALICE", approved_by="alice"),
        AlreadyApproved(person="alice", plan_short_id=PLAN.short_id),
    ),
    ("an approver", lambda: decide("slack:U0BOB"), None),
    (
        "unknown service",
        lambda: check_scope(Deploy(service="billing", environment="qa"), CONFIG),
        UnknownService(service="billing", known=("backend",)),
    ),
    (
        "not its environment",
        lambda: check_scope(Deploy(service="backend", environment="moon"), CONFIG),
        NotItsEnvironment(
            service="backend", environment="moon", environments=("staging", "qa", "production")
        ),
    ),
    (
        "locked by someone else",
        lambda: check_frozen(
            environment="qa", locked_by="alice", why="audit", since=NOW, requester="bob"
        ),
        EnvironmentLocked(environment="qa", who="alice", why="audit", since=NOW),
    ),
    (
        "locked by the requester",
        lambda: check_frozen(
            environment="qa", locked_by="bob", why="audit", since=NOW, requester="bob"
        ),
        None,
    ),
    (
        "unlock by someone else",
        lambda: check_unlock(CONFIG, environment="production", person="dave", locked_by="bob"),
        UnlockNotAllowed(
            environment="production", locked_by="bob", approvers=("alice", "bob", "carol")
        ),
    ),
    (
        "release after an interruption",
        lambda: check_release_interrupted(CONFIG, environment="production", person="dave"),
        ReleaseInterruptedNotAllowed(environment="production", approvers=("alice", "bob", "carol")),
    ),
    (
        "nobody may release",
        lambda: check_release(CONFIG, environment="staging", person="alice", reason="ok"),
        NobodyMayRelease(environment="staging"),
    ),
    (
        "release by someone not named",
        lambda: check_release(CONFIG, environment="qa", person="alice", reason="ok"),
        ReleaseNotAllowed(
            environment="qa", person="alice", releasers=("carol",), named_by="release_by"
        ),
    ),
    (
        "release without a reason",
        lambda: check_release(CONFIG, environment="qa", person="carol", reason=None),
        ReleaseWithoutReason(),
    ),
]


@pytest.mark.parametrize(("case", "check", "why"), CASES, ids=[c[0] for c in CASES])
def test_policy_refuses_with_the_facts(case: str, check: Callable[[], object], why: object) -> None:
    verdict = check()
    assert verdict == (Allowed() if why is None else Refused.model_validate({"why": why}))


@pytest.mark.parametrize(
    ("actor", "approved_by", "later_s", "stale"),
    [
        ("slack:U0ALICE", None, 3600, True),  # expired: nothing waits for it any more
        ("slack:U0ALICE", "alice", 60, True),  # already counted
        ("slack:U0CAROL", None, 60, False),  # may not: their own request
        ("slack:U0MALLORY", None, 60, False),  # may not: not a person
    ],
)
def test_stale_follows_from_the_reason(
    actor: str, approved_by: str | None, later_s: int, stale: bool
) -> None:
    verdict = decide(actor, later_s=later_s, approved_by=approved_by)
    assert isinstance(verdict, Refused)
    assert verdict.stale is stale
