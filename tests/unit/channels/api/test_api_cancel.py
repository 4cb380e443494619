"""Cancelling over the API: accepted (as the words ``cancel [plan id]``) only while the thread
is queued, for the plan waiting in line, and from its requester or an approver of the
environment (anyone else: 403, by the loop's own ``check_cancel``); and what ``queue`` shows
of a queued thread."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.config.config import parse_config
from bot.core.thread.events import (
    DeployQueued,
    Event,
    IntentChosen,
    MessageSent,
    PlanProposed,
    QueueLeft,
    QueueMoved,
    QueueTurn,
    ReleaseAwaited,
    UserMessage,
)
from bot.core.thread.intents import Deploy
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from channels.api.bodies import CancelResume, MessageResume, ResumeBody
from channels.api.resume import Accept, Conflict, Forbidden, check_resume
from channels.api.waiting import QueueView, queue_view

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
READY_AT = NOW + timedelta(minutes=30)
CONFIG = parse_config(
    """
[people.alice]
[people.bob]
[people.carol]
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice"]
""",
    base_dir=Path("/srv"),
)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="staging",
    version="v1.4.2",
    sha="a" * 40,
    requester="carol",
)
HASH = PLAN.plan_hash
OTHER = "f" * 16 if not HASH.startswith("f") else "0" * 16
INTENT = Deploy(service="backend", environment="production", version="v1.4.2", when_ready=True)

ASKED = UserMessage(id="m1", at=NOW, actor="api:carol", text="deploy backend v1.4.2 to staging")
IN_LINE: list[Event] = [
    ASKED,
    PlanProposed(id="p1", at=NOW, plan=PLAN),
    DeployQueued(id="q1", at=NOW, plan_hash=HASH, position=3, behind="backend v1.4.1 by bob"),
    MessageSent(id="s1", at=NOW, text="3rd in line", purpose="result"),
]
MOVED = [
    *IN_LINE,
    QueueMoved(id="q2", at=NOW, plan_hash=HASH, position=2, behind="backend v1.4.0 by dave"),
    QueueMoved(id="q3", at=NOW, plan_hash="0" * 64, position=1),  # another plan's news
    QueueMoved(id="q4", at=NOW, plan_hash=HASH, position=1),
]
WHEN_READY: list[Event] = [
    UserMessage(id="m1", at=NOW, actor="api:carol", text="deploy ... when ready"),
    IntentChosen(id="i1", at=NOW, intent=INTENT, source="grammar"),
    ReleaseAwaited(
        id="w1", at=NOW, intent=INTENT, requester="carol", reason="soaking", retry_at=READY_AT
    ),
]
LEFT = [*IN_LINE, QueueLeft(id="l1", at=NOW, plan_hash=HASH, why="cancelled", actor="api:carol")]
TURN = [*IN_LINE, QueueTurn(id="t1", at=NOW, plan_hash=HASH)]


def thread_of(events: list[Event]) -> Thread:
    return Thread(id="t1", origin=ApiOrigin(), created_at=NOW, events=events)


def cancel(user: str = "carol", plan_hash: str | None = None) -> CancelResume:
    return CancelResume(type="cancel", user=user, plan_hash=plan_hash)


def said(user: str, text: str) -> MessageResume:
    return MessageResume(type="message", user=user, text=text)


C = cancel
CASES: list[tuple[str, list[Event], ResumeBody, type[Accept | Conflict | Forbidden], str]] = [
    ("in line", IN_LINE, C(), Accept, "cancel"),
    ("in line, alice approves production only", IN_LINE, C("alice"), Forbidden, "can cancel"),
    ("in line, the plan named", IN_LINE, C(plan_hash=HASH), Accept, f"cancel {HASH[:16]}"),
    ("another plan named", IN_LINE, C(plan_hash=OTHER), Conflict, f"plan #{OTHER} is not the"),
    ("waiting for the soak", WHEN_READY, C(), Accept, "cancel"),
    ("a plan named, none in line", WHEN_READY, C(plan_hash=HASH), Conflict, "no plan waits in"),
    ("left already", LEFT, C(), Conflict, "nothing to cancel (status done)"),
    ("its turn came", TURN, C(), Conflict, "nothing to cancel (status running)"),
    ("still working", [ASKED], C(), Conflict, "nothing to cancel (status running)"),
    ("a stranger", IN_LINE, C("zed"), Forbidden, "'zed' is not in deploybot's [people]"),
    ("neither requester nor approver", IN_LINE, C("bob"), Forbidden, "can cancel this"),
    ("the soak's wait, by bob", WHEN_READY, C("bob"), Forbidden, "can cancel this"),
    ("the soak's wait, by its approver", WHEN_READY, C("alice"), Accept, "cancel"),
    ("said by bob", IN_LINE, said("bob", "cancel"), Forbidden, "can cancel this"),
    ("said in words", IN_LINE, said("carol", "cancel"), Accept, "cancel"),
    ("said with the plan id", IN_LINE, said("carol", f"cancel #{HASH[:4]}"), Accept, "cancel #"),
    ("said, another plan", IN_LINE, said("carol", "cancel ffff0000"), Conflict, "is not the plan"),
    ("said, nothing waits", LEFT, said("carol", "cancel"), Conflict, "nothing to cancel"),
]


@pytest.mark.parametrize(
    ("events", "body", "kind", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_cancel(
    events: list[Event],
    body: ResumeBody,
    kind: type[Accept | Conflict | Forbidden],
    fragment: str,
) -> None:
    got = check_resume(thread=thread_of(events), body=body, config=CONFIG, now=NOW)
    assert isinstance(got, kind), got
    match got:
        case Accept(actor=actor, text=text):
            assert text.startswith(fragment)
            assert actor == f"api:{body.user}"
        case Conflict(reason=why) | Forbidden(reason=why):
            assert fragment in why
        case _:
            raise AssertionError(got)


VIEWS: list[tuple[str, list[Event], QueueView | None]] = [
    (
        "in line",
        IN_LINE,
        QueueView(
            plan_hash=HASH, position=3, behind="backend v1.4.1 by bob", retry_at=None, reason=None
        ),
    ),
    (
        "moved up twice",
        MOVED,
        QueueView(plan_hash=HASH, position=1, behind=None, retry_at=None, reason=None),
    ),
    (
        "waiting for the soak",
        WHEN_READY,
        QueueView(plan_hash=None, position=None, behind=None, retry_at=READY_AT, reason="soaking"),
    ),
    ("left", LEFT, None),
    ("its turn", TURN, None),
    ("not queued", [ASKED], None),
]


@pytest.mark.parametrize(("events", "expected"), [v[1:] for v in VIEWS], ids=[v[0] for v in VIEWS])
def test_queue_view(events: list[Event], expected: QueueView | None) -> None:
    thread = thread_of(events)
    assert queue_view(thread) == expected
    assert (expected is not None) == (thread.status == "queued")
