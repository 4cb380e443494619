"""A verification belongs to its deploy (bot/core/policy/supersession.py): the pure decisions."""

from datetime import UTC, datetime

import pytest

from bot.core.policy.approval import Allowed, Refused
from bot.core.policy.supersession import StartedDeploy, standing, still_undoes
from bot.core.thread.events import DeployFinished, TimerFired, VerificationFinished
from bot.core.thread.plan import Plan
from bot.core.thread.thread import derive_status

AT = datetime(2026, 12, 7, 9, 30, 5, tzinfo=UTC)
CAROL = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.4.1",
    sha="1" * 40,
    previous_version="v1.4.0",
    previous_sha="0" * 40,
    requester="carol",
)


def started(key: str, *, kind: str = "deploy", version: str = "v1.4.2") -> StartedDeploy:
    return StartedDeploy.model_validate(
        {
            "idempotency_key": key,
            "kind": kind,
            "version": version,
            "requester": "alice",
            "at": AT,
        }
    )


def test_its_own_deploy_is_still_current() -> None:
    assert standing(CAROL, judged_key="t:h", newest=started("t:h")) is None


@pytest.mark.parametrize(
    ("newest", "says"),
    [
        (started("other"), "alice's deploy of v1.4.2 started there at 09:30:05 UTC"),
        (started("other", kind="rollback", version="v1.4.0"), "alice's rollback to v1.4.0"),
        (None, "I can no longer tell which deploy is live there"),
    ],
)
def test_anything_else_supersedes_it_and_it_decides_nothing(
    newest: StartedDeploy | None, says: str
) -> None:
    gone = standing(CAROL, judged_key="t:h", newest=newest)

    assert gone is not None
    assert gone.text.startswith("Verification of backend v1.4.1 in staging stopped: ")
    assert says in gone.text
    assert "no quarantine, no rollback" in gone.text
    assert gone.by == newest


ROLLBACK = Plan(
    kind="rollback",
    service="backend",
    environment="staging",
    version="v1.4.0",
    sha="0" * 40,
    previous_version="v1.4.1",
    previous_sha="1" * 40,
    requester="carol",
)


@pytest.mark.parametrize(
    ("rollback", "allowed"),
    [
        (ROLLBACK, True),  # made against the commit that failed
        (
            ROLLBACK.model_copy(update={"previous_version": "v1.4.2", "previous_sha": "2" * 40}),
            False,
        ),
        # a re-tagged v1.4.1 at another commit is not the deploy that failed
        (ROLLBACK.model_copy(update={"previous_sha": "9" * 40}), False),
        (ROLLBACK.model_copy(update={"previous_sha": None}), True),  # an old plan: by name
        (ROLLBACK.model_copy(update={"previous_sha": None, "previous_version": "v1.4.2"}), False),
    ],
)
def test_the_bots_rollback_undoes_only_the_deploy_that_failed(
    rollback: Plan, allowed: bool
) -> None:
    verdict = still_undoes(rollback, CAROL)

    assert isinstance(verdict, Allowed) is allowed
    if not allowed:
        assert isinstance(verdict, Refused)
        assert "whose verification failed" in verdict.reason


def test_a_superseded_verification_leaves_the_thread_done() -> None:
    events = [
        DeployFinished(
            id="1",
            at=AT,
            plan_hash="h",
            result="succeeded",
            exit_code=0,
            duration_s=1,
            output_tail="",
        ),
        TimerFired(id="2", at=AT, kind="verify", plan_hash="h"),
        VerificationFinished(id="3", at=AT, plan_hash="h", result="superseded", summary="s"),
    ]

    assert derive_status(list(events)) == "done"
