"""Escalation through the loop, the thread's open approval and the decision policy (pure)."""

from pathlib import Path
from typing import Literal

import pytest

from bot.core.config.config import parse_config
from bot.core.loop.next_step import Apply, Pause, Step, next_step
from bot.core.policy.approval import Allowed, Refused, check_decision
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    DeployFinished,
    DeployStarted,
    ErrorRecorded,
    Event,
    MessageSent,
    PlanProposed,
    TimerFired,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.refusals import NotAnApprover, OwnRequest
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval
from tests.unit.core.loop.test_loop import NOW, PLAN, msg
from tests.unit.core.policy.test_approvals import CONFIG, LATER, TEXT, asked, new_id, sent, thread

NO_ESCALATION = parse_config(
    TEXT.replace('escalate_to = "slack:C0LEADS"\n', "").replace(
        'escalate_approvers = ["alice", "carol", "erin"]\n', ""
    ),
    base_dir=Path("/srv"),
)
NEWER = PLAN.model_copy(update={"version": "v1.4.1"})
H = PLAN.plan_hash


def base(*more: Event) -> list[Event]:
    return [
        msg("deploy backend to production"),
        *asked(),
        sent("own"),
        sent("copy", "slack:C0DEPLOYS"),
        *more,
    ]


def decided(person: str, decision: Literal["approve", "reject"], plan_hash: str = H) -> Event:
    return ApprovalDecided(
        id=new_id(),
        at=NOW,
        plan_hash=plan_hash,
        actor=f"slack:U0{person.upper()}",
        person=person,
        decision=decision,
    )


def escalated(approvers: list[str], plan_hash: str = H) -> Event:
    return ApprovalEscalated(
        id=new_id(), at=LATER, plan_hash=plan_hash, to="slack:C0LEADS", approvers=approvers
    )


def fired(kind: Literal["remind", "escalate", "expire"] = "escalate", plan_hash: str = H) -> Event:
    return TimerFired(id=new_id(), at=LATER, kind=kind, plan_hash=plan_hash)


def step(*events: Event, config: object = CONFIG) -> Step:
    return next_step(
        thread(ApiOrigin(), *events),
        config=config,  # type: ignore[arg-type]
        now=LATER,
        new_id=new_id,
    )


def test_an_escalation_timer_escalates_an_open_request() -> None:
    result = step(*base(fired()))
    assert isinstance(result, Apply)
    first, note, copy = result.events
    assert isinstance(first, ApprovalEscalated)
    assert (first.plan_hash, first.to, first.approvers) == (H, "slack:C0LEADS", ["erin"])
    assert isinstance(note, MessageSent)
    assert isinstance(copy, MessageSent)
    assert (note.purpose, note.route) == ("question", None)
    assert note.text.startswith(f"Nobody has decided plan #{PLAN.short_id} (")
    assert "in 30 min; escalating: asking erin in slack:C0LEADS too." in note.text
    assert (copy.purpose, copy.route) == ("approval_request", "slack:C0LEADS")
    assert copy.text.startswith("Escalated: no decision yet.\nPlan #")


def test_an_escalation_timer_after_a_partial_approval_still_escalates() -> None:
    """Two approvals needed, one given: the request still waits, so it escalates."""
    two_needed = [
        e.model_copy(update={"min_approvals": 2}) if e.type == "approval_requested" else e
        for e in base()
    ]
    result = step(*two_needed, decided("alice", "approve"), msg("status"), fired())
    assert isinstance(result, Apply)
    assert [e.type for e in result.events] == ["approval_escalated", "message_sent", "message_sent"]


@pytest.mark.parametrize(
    "meanwhile",
    [
        pytest.param([decided("bob", "reject")], id="rejected"),
        pytest.param([decided("carol", "reject")], id="withdrawn"),
        pytest.param([fired("expire")], id="expired"),
        pytest.param([PlanProposed(id="p2", at=NOW, plan=NEWER)], id="superseded"),
        pytest.param(asked(NEWER), id="superseded-and-asked"),
        pytest.param(
            [
                decided("alice", "approve"),
                DeployStarted(id="s", at=NOW, plan_hash=H, idempotency_key="k", fencing_token=1),
                DeployFinished(
                    id="f",
                    at=NOW,
                    plan_hash=H,
                    result="succeeded",
                    exit_code=0,
                    duration_s=1,
                    output_tail="",
                ),
            ],
            id="deployed",
        ),
    ],
)
def test_an_escalation_timer_for_a_closed_request_does_nothing(meanwhile: list[Event]) -> None:
    assert step(*base(*meanwhile, fired())) == Pause()


def test_an_escalation_timer_for_another_plan_does_nothing() -> None:
    assert step(*base(fired(plan_hash=NEWER.plan_hash))) == Pause()


def test_an_escalation_timer_does_nothing_once_the_config_no_longer_escalates() -> None:
    assert NO_ESCALATION.environments["production"].escalation_after_s is None
    assert step(*base(fired()), config=NO_ESCALATION) == Pause()


@pytest.mark.parametrize("kind", ["remind", "escalate", "expire"])
def test_an_approved_request_blocked_by_a_lock_waits_on_nobody(
    kind: Literal["remind", "escalate", "expire"],
) -> None:
    """Approved, but the environment was locked when it came to run: no timer speaks."""
    locked = ErrorRecorded(id="l", at=NOW, kind="locked", message="production is locked")
    assert step(*base(decided("alice", "approve"), locked, fired(kind))) == Pause()


def open_of(*events: Event) -> OpenApproval:
    found = thread(ApiOrigin(), *asked(), *events).open_approval()
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("events", "escalated_to", "approvers", "waiting_on"),
    [
        ([], [], ["alice", "bob"], ["alice", "bob"]),
        ([escalated(["erin"])], ["erin"], ["alice", "bob", "erin"], ["alice", "bob", "erin"]),
        (
            [decided("alice", "approve"), escalated(["erin"])],
            ["erin"],
            ["alice", "bob", "erin"],
            ["bob", "erin"],
        ),
        ([escalated(["erin"], plan_hash=NEWER.plan_hash)], [], ["alice", "bob"], ["alice", "bob"]),
        (
            [escalated(["erin"]), escalated(["alice", "dave"])],
            ["erin", "alice", "dave"],
            ["alice", "bob", "erin", "dave"],
            ["alice", "bob", "erin", "dave"],
        ),
    ],
)
def test_open_approval_folds_in_escalations_of_the_same_plan(
    events: list[Event], escalated_to: list[str], approvers: list[str], waiting_on: list[str]
) -> None:
    found = open_of(*events)
    assert found.escalated_to == escalated_to
    assert found.approvers == approvers
    assert found.waiting_on() == waiting_on


def test_an_escalation_of_an_earlier_request_does_not_carry_over() -> None:
    found = thread(ApiOrigin(), *asked(), escalated(["erin"]), *asked(NEWER)).open_approval()
    assert found is not None
    assert (found.plan, found.escalated_to, found.approvers) == (NEWER, [], ["alice", "bob"])


def test_an_escalation_does_not_reopen_a_rejected_request() -> None:
    th = thread(ApiOrigin(), *asked(), decided("bob", "reject"), escalated(["erin"]))
    assert th.open_approval() is None


def decide(found: OpenApproval, actor: str, decision: Literal["approve", "reject"]) -> object:
    return check_decision(
        config=CONFIG, open_approval=found, actor=Actor(actor), decision=decision, now=LATER
    )


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_escalation_approver_may_decide_only_after_the_escalation(
    decision: Literal["approve", "reject"],
) -> None:
    not_yet = Refused(
        why=NotAnApprover(
            person="erin", decision=decision, environment="production", approvers=("alice", "bob")
        )
    )
    words = f"erin can't {decision} deploys to production; approvers: alice, bob."
    before = decide(open_of(), "slack:U0ERIN", decision)
    assert before == not_yet
    assert isinstance(before, Refused)
    assert before.reason == words
    other_plan = decide(
        open_of(escalated(["erin"], NEWER.plan_hash)), "email:erin@example.com", decision
    )
    assert other_plan == not_yet
    assert decide(open_of(escalated(["erin"])), "slack:U0ERIN", decision) == Allowed()
    assert decide(open_of(escalated(["erin"])), "email:ERIN@example.com", decision) == Allowed()


def test_escalation_does_not_let_the_requester_approve_their_own_plan() -> None:
    found = open_of(escalated(["carol", "erin"]))
    own = decide(found, "slack:U0CAROL", "approve")
    assert own == Refused(why=OwnRequest(person="carol", environment="production"))
    assert isinstance(own, Refused)
    assert (
        own.reason == "carol asked for this deploy, and production needs someone else's approval."
    )
    assert decide(found, "slack:U0CAROL", "reject") == Allowed()  # a withdrawal


def test_an_escalation_approver_decides_through_the_loop() -> None:
    before = step(*base(msg("approve", actor="slack:U0ERIN")))
    assert isinstance(before, Apply)
    assert [e.type for e in before.events] == ["approval_refused", "message_sent"]
    refusal = before.events[1]
    assert isinstance(refusal, MessageSent)
    assert (refusal.to, refusal.route, refusal.purpose) == (
        "slack:U0ERIN",
        "slack:C0DEPLOYS",
        "error",
    )
    after = step(*base(escalated(["erin"]), msg("approve", actor="slack:U0ERIN")))
    assert isinstance(after, Apply)
    [decision] = after.events
    assert isinstance(decision, ApprovalDecided)
    assert (decision.person, decision.decision, decision.plan_hash) == ("erin", "approve", H)
