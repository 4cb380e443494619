"""Resuming over the API: 409 when the thread is not waiting for it, 403 when policy says no."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.core.config.config import parse_config
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployFinished,
    DeployStarted,
    Event,
    MessageSent,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from channels.api.bodies import ApprovalResume, MessageResume
from channels.api.resume import (
    Accept,
    AcceptDecision,
    Conflict,
    Forbidden,
    Invalid,
    check_resume,
)

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
[people.alice]
[people.bob]
[people.carol]
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production", "bank"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
[environments.bank]
approval = true
approvers = ["alice", "bob"]
min_approvals = 2
""",
    base_dir=Path("/srv"),
)


def plan_for(requester: str, env: str = "production") -> Plan:
    return Plan(
        kind="deploy",
        service="backend",
        environment=env,
        version="v1.4.2",
        sha="a" * 40,
        requester=requester,
    )


def waiting(
    requester: str = "carol", *, env: str = "production", expires_in_s: float = 3600
) -> list[Event]:
    plan = plan_for(requester, env)
    return [
        UserMessage(id="m1", at=NOW, actor=f"api:{requester}", text=f"deploy backend to {env}"),
        PlanProposed(id="p1", at=NOW, plan=plan),
        ApprovalRequested(
            id="r1",
            at=NOW,
            plan_hash=plan.plan_hash,
            approvers=["alice", "bob"],
            min_approvals=2 if env == "bank" else 1,
            expires_at=NOW + timedelta(seconds=expires_in_s),
        ),
        MessageSent(id="s1", at=NOW, text="approve?", purpose="approval_request"),
    ]


def thread_of(events: list[Event]) -> Thread:
    return Thread(id="t1", origin=ApiOrigin(), created_at=NOW, events=events)


HASH = plan_for("carol").plan_hash
DONE = [
    *waiting(),
    ApprovalDecided(
        id="d1", at=NOW, plan_hash=HASH, actor="api:alice", person="alice", decision="approve"
    ),
    DeployStarted(id="x1", at=NOW, plan_hash=HASH, idempotency_key="k", fencing_token=1),
    DeployFinished(
        id="x2",
        at=NOW,
        plan_hash=HASH,
        result="succeeded",
        exit_code=0,
        duration_s=1,
        output_tail="",
    ),
    MessageSent(id="s2", at=NOW, text="done", purpose="result"),
]
RUNNING = [UserMessage(id="m1", at=NOW, actor="api:carol", text="deploy backend to staging")]


def approval(
    user: str, decision: str = "approve", reason: str | None = None, *, plan_hash: str = ""
) -> ApprovalResume:
    return ApprovalResume.model_validate(
        {
            "type": "approval",
            "decision": decision,
            "user": user,
            "reason": reason,
            "plan_hash": plan_hash or HASH,
        }
    )


def said_of(verdict: Accept | AcceptDecision) -> str:
    """What was accepted, in words: the text as typed, or the decision and its plan."""
    if isinstance(verdict, Accept):
        return verdict.text
    reason = f" {verdict.reason}" if verdict.reason else ""
    return f"{verdict.decision} #{verdict.plan_hash}{reason}"


def message(user: str, text: str) -> MessageResume:
    return MessageResume(type="message", user=user, text=text)


Verdict = Accept | AcceptDecision | Conflict | Forbidden | Invalid
W = waiting()

# (case, events, body, verdict type, the accepted text or a fragment of the reason)
A, M = approval, message
CASES: list[tuple[str, list[Event], ApprovalResume | MessageResume, type[Verdict], str]] = [
    ("approver approves", W, A("alice"), AcceptDecision, f"approve #{HASH}"),
    ("name is case-insensitive", W, A("Alice"), AcceptDecision, f"approve #{HASH}"),
    (
        "reject with reason",
        W,
        A("bob", "reject", "not now"),
        AcceptDecision,
        f"reject #{HASH} not now",
    ),
    (
        "approve ignores a reason",
        W,
        A("bob", "approve", "lgtm"),
        AcceptDecision,
        f"approve #{HASH}",
    ),
    ("requester withdraws", W, A("carol", "reject"), AcceptDecision, f"reject #{HASH}"),
    ("not an approver", W, A("carol"), Forbidden, "carol can't approve deploys to production"),
    ("unknown person", W, A("zed"), Forbidden, "'zed' is not in deploybot's [people]"),
    (
        "own deploy",
        waiting("alice"),
        A("alice", plan_hash=plan_for("alice").plan_hash),
        Forbidden,
        "alice asked for this deploy",
    ),
    ("expired", waiting(expires_in_s=0), A("alice"), Conflict, "expired at 09:00 UTC"),
    (
        "nothing open (done)",
        DONE,
        A("alice"),
        Conflict,
        "not waiting for an approval (status done)",
    ),
    ("nothing open (running)", RUNNING, A("bob"), Conflict, "approval (status running)"),
    ("message while waiting", W, M("carol", "status"), Accept, "status"),
    (
        "message when done",
        DONE,
        M("carol", "deploys backend in production"),
        Accept,
        "deploys backend in production",
    ),
    (
        "message while working",
        RUNNING,
        M("carol", "status"),
        Conflict,
        "still working (status running)",
    ),
    ("unknown person's message", W, M("zed", "status"), Forbidden, "'zed' is not in"),
    ("'approve' as a message", W, M("alice", "approve"), Accept, "approve"),
    ("'approve' by a non-approver", W, M("carol", "approve"), Forbidden, "carol can't approve"),
    ("'approve' of another plan", W, M("alice", "approve #ffff"), Conflict, "plan #ffff is not"),
    ("'reject' with nothing open", DONE, M("alice", "reject no"), Conflict, "not waiting for an"),
    (
        "approval of a plan no longer open",
        W,
        A("alice", plan_hash=plan_for("carol", "bank").plan_hash),
        Conflict,
        "is not the plan waiting for a decision",
    ),
]


@pytest.mark.parametrize(
    ("events", "body", "kind", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_resume(
    events: list[Event], body: ApprovalResume | MessageResume, kind: type[Verdict], said: str
) -> None:
    got = check_resume(thread=thread_of(events), body=body, config=CONFIG, now=NOW)
    assert isinstance(got, kind), got
    if isinstance(got, Accept | AcceptDecision):
        assert said_of(got) == said
        assert got.actor == f"api:{body.user.lower()}"
    else:
        assert said in got.reason


def test_second_approval_of_two() -> None:
    events = waiting(env="bank")
    plan_hash = plan_for("carol", "bank").plan_hash
    events.append(
        ApprovalDecided(
            id="d1", at=NOW, plan_hash=plan_hash, actor="api:alice", person="alice",
            decision="approve",
        )
    )  # fmt: skip
    thread = thread_of(events)
    assert thread.status == "awaiting_approval"
    again = check_resume(
        thread=thread, body=approval("alice", plan_hash=plan_hash), config=CONFIG, now=NOW
    )
    assert again == Conflict(reason=f"alice has already approved plan #{plan_hash[:4]}.")
    bob = check_resume(
        thread=thread, body=approval("bob", plan_hash=plan_hash), config=CONFIG, now=NOW
    )
    assert bob == AcceptDecision(actor="api:bob", decision="approve", plan_hash=plan_hash)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(reason=st.text(max_size=300), decision=st.sampled_from(["approve", "reject"]))
def test_any_valid_reason_is_sent_exactly(reason: str, decision: str) -> None:
    """A reason the body accepts is carried with the decision exactly (one line)."""
    try:
        body = approval("bob", decision, reason)
    except ValidationError:
        assert "?" in reason
        return
    got = check_resume(thread=thread_of(waiting()), body=body, config=CONFIG, now=NOW)
    assert isinstance(got, AcceptDecision), got
    expected = f"{decision} #{HASH}"
    if decision == "reject" and body.reason:
        expected += f" {body.reason}"
    assert said_of(got) == expected


def test_an_approval_without_plan_hash_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="plan_hash"):
        ApprovalResume.model_validate({"type": "approval", "decision": "approve", "user": "bob"})
