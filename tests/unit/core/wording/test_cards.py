"""Approval requests are data all the way out: the core records the card on the messages it
appends (asking, escalating, closing), and a thread stored before it did gets the same cards
once, on load, as the old code rebuilt for every delivery. Through ``next_step`` (the core's
entry) and ``decode_thread`` (the only way a stored thread is read)."""

import base64
import json
from datetime import timedelta
from itertools import count
from pathlib import Path

from bot.core.config.config import parse_config
from bot.core.loop.next_step import Apply, next_step
from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import (
    ApprovalDecided,
    Event,
    MessageSent,
    PlanProposed,
    TimerFired,
    UserMessage,
)
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.plan import CommitInfo, Evidence, Plan
from bot.core.thread.thread import Thread
from bot.core.wording.cards import with_cards
from bot.shell.store.codec import decode_thread, encode_thread
from tests.unit.core.loop.test_loop import NOW

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
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
repo = "repos/backend"
deploy = ["./deploy.sh"]
environments = ["production"]
[environments.production]
approval = true
approvers = ["alice", "bob"]
min_approvals = 2
approval_channel = "email:alice@example.com"
escalate_after_s = 900
escalate_approvers = ["erin"]
""",
    base_dir=Path("/srv"),
)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="ab" * 20,
    subject="fix login timeout",
    previous_version="v1.4.1",
    requester="carol",
)
EVIDENCE = Evidence(
    live_version="v1.4.1",
    requester="carol",
    commits_total=1,
    commits=[CommitInfo(sha="ab" * 20, subject="fix login timeout", author="dana")],
    ci_state="success",
)
_n = count()


def new_id() -> str:
    return f"n{next(_n)}"


def advance(thread: Thread, event: Event | None = None, *, minutes: int = 0) -> Thread:
    """``thread`` with ``event`` and then what the core appends for it."""
    events = [*thread.events, *([event] if event else [])]
    thread = thread.model_copy(update={"events": events})
    step = next_step(thread, config=CONFIG, now=NOW + timedelta(minutes=minutes), new_id=new_id)
    assert isinstance(step, Apply), step
    return thread.model_copy(update={"events": [*thread.events, *step.events]})


def asking() -> Thread:
    thread = Thread(
        id="t-card",
        origin=SlackOrigin(channel="C0DEPLOYS", thread_ts="1.1"),
        created_at=NOW,
        events=[UserMessage(id="u1", at=NOW, actor="slack:U0CAROL", text="deploy backend")],
    )
    return advance(thread, PlanProposed(id="p1", at=NOW, plan=PLAN, evidence=EVIDENCE))


def messages(thread: Thread) -> list[MessageSent]:
    return [e for e in thread.events if isinstance(e, MessageSent)]


def test_asking_for_approval_records_the_card_on_every_copy_of_the_request() -> None:
    thread = asking()
    asked = messages(thread)
    assert [(m.purpose, m.route) for m in asked] == [
        ("approval_request", None),
        ("approval_request", "email:alice@example.com"),
    ]
    expected = ApprovalCard(
        plan=PLAN,
        plan_hash=PLAN.plan_hash,
        approvers=["alice", "bob"],
        min_approvals=2,
        expires_at=NOW + timedelta(hours=1),
        evidence=EVIDENCE,
    )
    assert [m.card for m in asked] == [expected, expected]
    assert (expected.approve_with, expected.reject_with) == ("approve", "reject")


def test_an_escalation_records_the_widened_card_and_a_decision_closes_with_it() -> None:
    thread = asking()
    timer = TimerFired(id="t1", at=NOW, kind="escalate", plan_hash=PLAN.plan_hash)
    thread = advance(thread, timer, minutes=15)
    again = messages(thread)[-1]
    assert again.purpose == "approval_request"
    assert again.card is not None
    assert again.card.approvers == ["alice", "bob", "erin"]
    decided = ApprovalDecided(
        id="d1",
        at=NOW,
        plan_hash=PLAN.plan_hash,
        actor="slack:U0ALICE",
        person="alice",
        decision="reject",
        reason="not today",
    )
    thread = advance(thread, decided, minutes=16)
    own, copy = messages(thread)[-2:]
    assert (own.replaces, own.card) == (again.id, again.card)  # everyone asked is told
    assert copy.route == "email:alice@example.com"
    assert copy.card == messages(thread)[1].card  # the copy's own card, as it was asked


def test_a_thread_stored_before_cards_were_recorded_loads_with_the_cards_it_showed() -> None:
    """Written once by the code before this change (a192ca5; an open request, its copy in the
    approval channel and an escalation), with the cards that code rebuilt for each message."""
    stored = base64.b64decode((GOLDEN / "thread_open_card.b64").read_text())
    shown = json.loads((GOLDEN / "thread_open_card.cards.json").read_text())
    thread = decode_thread(stored, version=4)
    assert thread.version == 4
    assert thread.status == "awaiting_approval"
    cards = {m.id: m.card.model_dump(mode="json") if m.card else None for m in messages(thread)}
    old_fields = set(next(iter(shown.values())))
    assert {k: v and {f: v[f] for f in old_fields} for k, v in cards.items()} == shown
    assert cards["old4"] is not None
    assert cards["old4"]["approvers"] == ["alice", "bob", "erin"]  # the escalated card
    # A decision on it now closes every copy with the card each one showed.
    decided = ApprovalDecided(
        id="d1",
        at=NOW,
        plan_hash=thread.open_approval().plan.plan_hash,  # type: ignore[union-attr]
        actor="slack:U0CAROL",
        person="carol",
        decision="reject",
        reason="withdrawn",
    )
    closed = advance(thread, decided, minutes=20)
    own, copy = messages(closed)[-2:]
    assert (own.replaces, own.card) == ("old4", messages(thread)[2].card)
    assert (copy.replaces, copy.card) == ("old2", messages(thread)[1].card)
    # Saved again, the cards are stored as recorded and load unchanged.
    assert decode_thread(encode_thread(closed), version=5) == closed.model_copy(
        update={"version": 5}
    )


def test_a_thread_with_its_cards_recorded_is_not_rebuilt_on_load() -> None:
    thread = asking()
    assert with_cards(thread) is thread
    request = messages(thread)[0]
    assert request.card is not None
    # A card recorded is what is shown, even where the thread alone would say otherwise.
    other = request.card.model_copy(update={"approvers": ["bob"]})
    events = [
        e if e is not request else request.model_copy(update={"card": other}) for e in thread.events
    ]
    changed = thread.model_copy(update={"events": events})
    assert messages(with_cards(changed))[0].card == other
