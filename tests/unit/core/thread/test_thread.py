"""Status is derived from the events, never stored."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRefused,
    ApprovalRequested,
    DecisionReceived,
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    ErrorRecorded,
    Event,
    IntentChosen,
    MessageSent,
    PlanSuperseded,
    TimerFired,
    UserMessage,
    VerificationFinished,
)
from bot.core.thread.intents import AskHuman, Deploy, Done, ListDeploys, Rollback
from bot.core.thread.thread import Status, derive_status

AT = datetime(2026, 11, 2, tzinfo=UTC)


def e(cls: type, **f: object) -> Event:
    return cls(id="x", at=AT, **f)  # type: ignore[no-any-return]


REQ = e(UserMessage, actor="slack:U1", text="deploy")
SAID = e(MessageSent, text="ok")
ASKED = e(
    ApprovalRequested,
    plan_hash="p",
    approvers=["a", "b"],
    min_approvals=2,
    expires_at=AT + timedelta(hours=1),
)
YES = e(ApprovalDecided, plan_hash="p", actor="slack:A", person="a", decision="approve")
YES_B = e(ApprovalDecided, plan_hash="p", actor="slack:B", person="b", decision="approve")
NO = e(ApprovalDecided, plan_hash="p", actor="slack:A", person="a", decision="reject")
START = e(DeployStarted, plan_hash="p", idempotency_key="k", fencing_token=1)


def finished(result: str) -> Event:
    return e(
        DeployFinished, plan_hash="p", result=result, exit_code=0, duration_s=1, output_tail=""
    )


@pytest.mark.parametrize(
    ("events", "status"),
    [
        ([], "done"),
        ([REQ], "running"),
        ([REQ, SAID], "done"),  # answered (help) and nothing pending
        (
            [REQ, e(IntentChosen, intent=Deploy(service="b", environment="s"), source="grammar")],
            "running",
        ),
        (
            [REQ, e(IntentChosen, intent=AskHuman(message="?"), source="model"), SAID],
            "awaiting_human",
        ),
        (
            [REQ, e(IntentChosen, intent=AskHuman(message="?"), source="model"), SAID, REQ],
            "running",
        ),
        ([REQ, e(IntentChosen, intent=Done(message="."), source="model"), SAID], "done"),
        ([REQ, ASKED, SAID], "awaiting_approval"),
        ([REQ, ASKED, SAID, REQ], "running"),
        (
            [REQ, ASKED, SAID, REQ, e(ApprovalRefused, actor="slack:X", reason="no"), SAID],
            "awaiting_approval",
        ),
        ([REQ, ASKED, SAID, REQ, SAID], "awaiting_approval"),  # a 'status' question
        ([REQ, ASKED, SAID, REQ, YES, SAID], "awaiting_approval"),  # 1 of 2
        ([REQ, ASKED, SAID, REQ, YES, REQ, YES_B], "running"),  # 2 of 2
        ([REQ, ASKED, SAID, REQ, YES, REQ, YES], "awaiting_approval"),  # a twice: 1 of 2
        ([REQ, ASKED, SAID, REQ, NO, SAID], "done"),
        ([REQ, ASKED, YES, YES, START], "running"),
        ([REQ, START, finished("succeeded"), SAID], "done"),
        ([REQ, START, finished("failed"), SAID], "failed"),
        ([REQ, START, finished("timed_out"), SAID], "failed"),
        ([REQ, START, e(DeployInterrupted, plan_hash="p"), SAID], "awaiting_human"),
        ([REQ, e(ErrorRecorded, kind="model_unavailable", message="x"), SAID], "awaiting_human"),
        ([REQ, e(ErrorRecorded, kind="tool_failed", message="x"), SAID], "awaiting_human"),
        # While a request can still be approved the thread waits for it, whatever else was
        # answered meanwhile (the model saying it is done, a lookup): found by the state
        # machine in tests/unit/core/loop/test_state_machine.py.
        (
            [REQ, ASKED, SAID, REQ, e(IntentChosen, intent=Done(message="."), source="model")],
            "awaiting_approval",
        ),
        (
            [
                REQ,
                ASKED,
                SAID,
                REQ,
                e(IntentChosen, intent=ListDeploys(service="b", environment="s"), source="grammar"),
                e(MessageSent, text="Recent deploys ...", purpose="result"),
            ],
            "awaiting_approval",
        ),
        ([REQ, ASKED, e(PlanSuperseded, plan_hash="p", by="x"), SAID], "done"),
        ([REQ, ASKED, e(TimerFired, kind="expire", plan_hash="p"), SAID], "done"),
    ],
)
def test_derive_status(events: list[Event], status: Status) -> None:
    assert derive_status(events) == status


def test_a_lookup_answered_by_the_grammar_ends_the_thread() -> None:
    chose = e(IntentChosen, intent=ListDeploys(service="b", environment="s"), source="grammar")
    answer = e(MessageSent, text="Recent deploys ...", purpose="result")
    assert derive_status([REQ, chose, answer]) == "done"
    failed = [REQ, START, finished("failed"), e(MessageSent, text="FAILED", purpose="result")]
    assert derive_status(failed) == "failed"


def test_a_rollback_after_a_failed_verification_that_cannot_run_ends_the_thread_failed() -> None:
    verdict = e(VerificationFinished, plan_hash="p", result="failed", summary="failed: x")
    system = e(IntentChosen, intent=Rollback(service="b", environment="s"), source="system")
    asked = e(IntentChosen, intent=Rollback(service="b", environment="s"), source="grammar")
    no_target = e(ErrorRecorded, kind="tool_failed", message="no earlier successful deploy")
    said = e(MessageSent, text="Nothing to roll back to ...", purpose="error")
    deployed = [REQ, START, finished("succeeded"), verdict]
    assert derive_status([*deployed, system, no_target, said]) == "failed"
    # refused after an approval click (a drift, a config that lacks approvers): failed too
    click = e(DecisionReceived, actor="slack:A", decision="approve", plan_hash="abcd")
    assert derive_status([*deployed, system, click, no_target, said]) == "failed"
    # a person's own rollback that fails is theirs to answer, as before
    assert derive_status([REQ, asked, no_target, said]) == "awaiting_human"
    # a new request after it starts over
    assert derive_status([*deployed, system, no_target, said, REQ, asked, no_target]) == (
        "awaiting_human"
    )
    # once the rollback ran, its own errors are not "nothing to roll back to"
    rolled = [*deployed, system, START, finished("succeeded")]
    assert derive_status([*rolled, e(DeployInterrupted, plan_hash="p")]) == "awaiting_human"
