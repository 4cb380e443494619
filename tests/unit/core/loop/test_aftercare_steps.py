"""bot/core/loop/aftercare.py through next_step (pure): a failed verification with nothing to roll
back to, and a bot-chosen rollback that cannot be planned or run for any reason, end the
thread ``failed`` with what a person can do; the model is never asked and no rollback plan
is proposed. Table-driven over the errors a rollback's planning or start can record."""

from datetime import UTC, datetime
from itertools import count
from pathlib import Path

import pytest

from bot.core.config.config import parse_config
from bot.core.loop.next_step import Apply, Decide, ResolvePlan, Step, next_step
from bot.core.thread.events import (
    DeployFinished,
    DeployStarted,
    ErrorKind,
    ErrorRecorded,
    Event,
    IntentChosen,
    MessageSent,
    PlanProposed,
    UserMessage,
    VerificationFinished,
    VersionQuarantined,
)
from bot.core.thread.intents import Deploy, Rollback
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{version}"]
environments = ["staging"]
[environments.staging]
verify_s = 12
on_verify_failure = "rollback"
approval_channel = "slack:C0DEPLOYS"
checks = [{ http = "https://api.example.com/healthz" }]
""",
    base_dir=Path("/srv"),
)
_n = count(1)


def ev(cls: type, **fields: object) -> Event:
    return cls(id=f"e{next(_n)}", at=NOW, **fields)  # type: ignore[no-any-return]


def plan(previous: str | None) -> Plan:
    return Plan(
        kind="deploy",
        service="backend",
        environment="staging",
        version="v1.4.2",
        sha="a" * 40,
        previous_version=previous,
        requester="carol",
    )


def failed_verification(previous: str | None) -> list[Event]:
    deployed = plan(previous)
    return [
        ev(UserMessage, actor="slack:U0CAROL", text="deploy backend v1.4.2 to staging"),
        ev(IntentChosen, intent=Deploy(service="backend", environment="staging"), source="grammar"),
        ev(PlanProposed, plan=deployed),
        ev(DeployStarted, plan_hash=deployed.plan_hash, idempotency_key="k", fencing_token=1),
        ev(
            DeployFinished,
            plan_hash=deployed.plan_hash,
            result="succeeded",
            exit_code=0,
            duration_s=1,
            output_tail="",
        ),
        ev(
            VersionQuarantined,
            service="backend",
            environment="staging",
            version="v1.4.2",
            by="verification",
            reason="x",
        ),
        ev(
            VerificationFinished,
            plan_hash=deployed.plan_hash,
            result="failed",
            summary="Verification of backend v1.4.2 in staging failed: http x: status 503",
            message_id="m1",
        ),
    ]


def thread(events: list[Event]) -> Thread:
    return Thread(id="t", origin=ApiOrigin(), created_at=NOW, events=events)


def step(events: list[Event]) -> Step:
    return next_step(thread(events), config=CONFIG, now=NOW, new_id=lambda: f"n{next(_n)}")


def test_the_first_deploy_there_gets_no_rollback_and_the_thread_ends_failed() -> None:
    events = failed_verification(previous=None)
    result = step(events)
    assert isinstance(result, Apply)
    assert not [e for e in result.events if isinstance(e, IntentChosen)]
    texts = [e.text for e in result.events if isinstance(e, MessageSent)]
    assert texts[0].startswith(
        "Verification of backend v1.4.2 in staging failed: http x: status 503. Nothing to roll "
        "back to: there was no successful deploy of backend to staging before v1.4.2."
    )
    assert "(`rollback backend in staging to <version>`)" in texts[0]
    # the environment's approval channel hears the same (on_verify_failure = "rollback")
    assert [e.route for e in result.events if isinstance(e, MessageSent)] == [
        None,
        "slack:C0DEPLOYS",
    ]
    assert thread([*events, *result.events]).status == "failed"


def test_with_a_version_before_it_the_rollback_is_chosen_without_promising_one() -> None:
    events = failed_verification(previous="v1.4.1")
    result = step(events)
    assert isinstance(result, Apply)
    assert isinstance(result.events[-1], IntentChosen)
    assert isinstance(result.events[-1].intent, Rollback)
    texts = " ".join(e.text for e in result.events if isinstance(e, MessageSent))
    assert "Rolling" not in texts
    assert "Nothing to roll back to" not in texts
    assert isinstance(step([*events, *result.events]), ResolvePlan)


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        (
            "tool_failed",
            "There is no earlier successful deploy of backend to staging to roll back to.",
        ),
        ("tool_failed", "backend has no tag v1.4.1 to roll back to."),
        ("tool_failed", "git ls-remote timed out after 10 s"),
        ("refused", "backend v1.4.1 is quarantined in staging (by verification ...)"),
        ("locked", "staging is frozen (weekend) until Monday 08:00"),
    ],
)
def test_a_rollback_the_bot_chose_that_cannot_run_is_said_and_fails_the_thread(
    kind: ErrorKind, why: str
) -> None:
    events = failed_verification(previous="v1.4.1")
    chose = step(events)
    assert isinstance(chose, Apply)
    events = [*events, *chose.events, ev(ErrorRecorded, kind=kind, message=why)]
    result = step(events)  # never Decide: the model does not improvise here
    assert isinstance(result, Apply), result
    [message] = result.events
    assert isinstance(message, MessageSent)
    assert message.text.startswith(f"The rollback of backend in staging cannot run: {why}")
    assert "backend v1.4.2 stays quarantined in staging" in message.text
    assert "release backend v1.4.2 in staging <reason>" in message.text
    assert thread([*events, message]).status == "failed"


def test_a_persons_own_rollback_that_fails_goes_on_as_before() -> None:
    events: list[Event] = [
        ev(UserMessage, actor="slack:U0CAROL", text="roll back backend please"),
        ev(IntentChosen, intent=Rollback(service="backend", environment="staging"), source="model"),
        ev(ErrorRecorded, kind="tool_failed", message="There is no earlier successful deploy"),
    ]
    assert isinstance(step(events), Decide)
    assert thread(events).status == "awaiting_human"
