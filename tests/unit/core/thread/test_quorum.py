"""One quorum count: the thread's status and the approval policy both count different
people, so one person approving twice counts once in both."""

from datetime import timedelta

import pytest

from bot.core.policy.approval import has_quorum
from bot.core.thread.derived.quorum import approvals_count, quorum_reached
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    Event,
    MessageSent,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.origin import TerminalOrigin
from bot.core.thread.thread import Thread, derive_status
from tests.unit.core.loop.test_loop import NOW, PLAN


@pytest.mark.parametrize(
    ("approved_by", "needed", "count", "reached"),
    [
        ([], 0, 0, True),
        ([], 1, 0, False),
        (["alice"], 1, 1, True),
        (["alice", "alice"], 2, 1, False),  # one person twice is one approval
        (["alice", "bob"], 2, 2, True),
        (["alice", "bob", "alice"], 3, 2, False),
        (["alice", "bob", "carol"], 2, 3, True),
    ],
)
def test_quorum_counts_different_people(
    approved_by: list[str], needed: int, count: int, reached: bool
) -> None:
    assert approvals_count(approved_by) == count
    assert quorum_reached(approved_by, needed=needed) is reached


def _thread(people: list[str], *, needed: int) -> Thread:
    events: list[Event] = [
        UserMessage(id="m", at=NOW, actor="terminal:ops", text="deploy"),
        PlanProposed(id="p", at=NOW, plan=PLAN),
        ApprovalRequested(
            id="r",
            at=NOW,
            plan_hash=PLAN.plan_hash,
            approvers=["alice", "bob", "carol"],
            min_approvals=needed,
            expires_at=NOW + timedelta(hours=1),
        ),
        MessageSent(id="s", at=NOW, text="approve?", purpose="approval_request"),
    ]
    events += [
        ApprovalDecided(
            id=f"d{i}",
            at=NOW,
            plan_hash=PLAN.plan_hash,
            actor=f"terminal:{person}",
            person=person,
            decision="approve",
        )
        for i, person in enumerate(people)
    ]
    return Thread(id="t", origin=TerminalOrigin(session="s"), created_at=NOW, events=events)


@pytest.mark.parametrize(
    ("people", "needed", "reached"),
    [
        (["alice"], 2, False),
        (["alice", "alice"], 2, False),  # the same person twice: still waiting
        (["alice", "bob"], 2, True),
        (["alice", "alice", "bob"], 2, True),
        (["alice", "bob", "bob"], 3, False),
        (["alice"], 1, True),
    ],
)
def test_status_and_policy_count_the_same_approvals(
    people: list[str], needed: int, reached: bool
) -> None:
    thread = _thread(people, needed=needed)
    open_approval = thread.open_approval()
    assert open_approval is not None
    assert has_quorum(open_approval) is reached
    status = derive_status(thread.events)
    assert status == ("running" if reached else "awaiting_approval")
