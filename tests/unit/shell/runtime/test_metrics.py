"""Counting events for /metrics (pure)."""

from datetime import UTC, datetime, timedelta

from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployFinished,
    ErrorRecorded,
    Event,
    IntentChosen,
    MessageSent,
)
from bot.core.thread.intents import Deploy
from bot.shell.runtime.metrics import count_events, prometheus_line

AT = datetime(2026, 11, 2, tzinfo=UTC)


def test_count_events() -> None:
    events: list[Event] = [
        IntentChosen(
            id="1",
            at=AT,
            intent=Deploy(service="b", environment="s"),
            source="model",
            model="m",
            input_tokens=800,
            output_tokens=30,
        ),
        IntentChosen(id="2", at=AT, intent=Deploy(service="b", environment="s"), source="grammar"),
        ErrorRecorded(
            id="3", at=AT, kind="invalid_output", message="x", input_tokens=700, output_tokens=20
        ),
        ErrorRecorded(id="4", at=AT, kind="tool_failed", message="x"),
        ApprovalRequested(
            id="5",
            at=AT,
            plan_hash="p",
            approvers=["a"],
            min_approvals=1,
            expires_at=AT + timedelta(hours=1),
        ),
        ApprovalDecided(
            id="6", at=AT, plan_hash="p", actor="slack:A", person="a", decision="approve"
        ),
        DeployFinished(
            id="7", at=AT, plan_hash="p", result="failed", exit_code=1, duration_s=1, output_tail=""
        ),
        MessageSent(id="8", at=AT, text="hi"),
    ]
    assert dict(count_events(events)) == {
        "model_calls_total": 2,
        "model_tokens_total|kind=input": 1500,
        "model_tokens_total|kind=output": 50,
        "approvals_requested_total": 1,
        "approvals_decided_total|decision=approve": 1,
        "deploys_total|result=failed": 1,
    }


def test_prometheus_line() -> None:
    assert prometheus_line("deploys_total|result=failed", 3) == (
        'deploybot_deploys_total{result="failed"} 3'
    )
    assert prometheus_line("model_calls_total", 2) == "deploybot_model_calls_total 2"


def test_prometheus_line_with_several_labels() -> None:
    field = "inputs_set_aside_total|channel=email,reason=too_deep"
    assert prometheus_line(field, 1) == (
        'deploybot_inputs_set_aside_total{channel="email",reason="too_deep"} 1'
    )
