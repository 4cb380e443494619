"""Approval requests across places: copies, closing, replies and escalation (all pure)."""

from datetime import timedelta
from itertools import count
from pathlib import Path

import pytest

from bot.core.config.config import parse_config
from bot.core.policy.approval_posts import (
    approval_message_id,
    closing_messages,
    escalation,
    everywhere,
    reply_route,
    requests_for,
)
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    Event,
    MessageSent,
    PlanProposed,
)
from bot.core.thread.origin import (
    ApiOrigin,
    EmailOrigin,
    Origin,
    ScheduleOrigin,
    SlackOrigin,
    TerminalOrigin,
)
from bot.core.thread.plan import Plan
from bot.core.thread.text.actor import Actor
from bot.core.thread.thread import OpenApproval, Thread
from bot.core.wording.messages import approval_request_text
from tests.unit.core.loop.test_loop import NOW, PLAN

TEXT = """
[people]
alice = { slack = "U0ALICE", email = "alice@example.com" }
bob = { slack = "U0BOB", email = "bob@example.com" }
carol = { slack = "U0CAROL", email = "carol@example.com" }
erin = { slack = "U0ERIN", email = "erin@example.com" }
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["production", "mailed", "quiet"]
[environments.production]
approval = true
approvers = ["alice", "bob"]
approval_channel = "slack:C0DEPLOYS"
escalate_to = "slack:C0LEADS"
escalate_approvers = ["alice", "carol", "erin"]
[environments.mailed]
approval = true
approvers = ["alice", "bob"]
approval_channel = "email:alice@example.com,bob@example.com"
escalate_to = "email:erin@example.com"
escalate_approvers = ["erin"]
[environments.quiet]
approval = true
approvers = ["alice", "bob"]
"""
CONFIG = parse_config(TEXT, base_dir=Path("/srv"))
MAILED = PLAN.model_copy(update={"environment": "mailed"})  # requested by carol
QUIET = PLAN.model_copy(update={"environment": "quiet"})
SLACK_HERE = SlackOrigin(channel="C0DEPLOYS", thread_ts="1.1")
SLACK_ELSEWHERE = SlackOrigin(channel="C0OTHER", thread_ts="1.1")
SLACK_LEADS = SlackOrigin(channel="C0LEADS", thread_ts="1.1")
EMAIL = EmailOrigin(address="carol@example.com", subject="deploy backend")
LATER = NOW + timedelta(minutes=30)
_n = count()


def new_id() -> str:
    return f"n{next(_n)}"


def request(
    plan: Plan = PLAN, approvers: tuple[str, ...] = ("alice", "bob"), min_approvals: int = 1
) -> ApprovalRequested:
    return ApprovalRequested(
        id=new_id(),
        at=NOW,
        plan_hash=plan.plan_hash,
        approvers=list(approvers),
        min_approvals=min_approvals,
        expires_at=NOW + timedelta(hours=1),
    )


def sent(mid: str, route: str | None = None, purpose: str = "approval_request") -> MessageSent:
    return MessageSent(id=mid, at=NOW, text=mid, purpose=purpose, route=route)


def thread(origin: Origin, *events: Event) -> Thread:
    return Thread(id="t1", origin=origin, created_at=NOW, events=list(events))


def asked(plan: Plan = PLAN, approvers: tuple[str, ...] = ("alice", "bob")) -> list[Event]:
    return [PlanProposed(id=new_id(), at=NOW, plan=plan), request(plan, approvers)]


@pytest.mark.parametrize(
    ("origin", "plan", "approvers", "routes"),
    [
        (SLACK_HERE, PLAN, ("alice", "bob"), [None]),
        (SLACK_ELSEWHERE, PLAN, ("alice", "bob"), [None, "slack:C0DEPLOYS"]),
        (EMAIL, PLAN, ("alice", "bob"), [None, "slack:C0DEPLOYS"]),
        (ApiOrigin(), PLAN, ("alice", "bob"), [None, "slack:C0DEPLOYS"]),
        (TerminalOrigin(session="s"), PLAN, ("alice", "bob"), [None, "slack:C0DEPLOYS"]),
        (ScheduleOrigin(name="n", report_to="slack:C0DEPLOYS"), PLAN, ("alice", "bob"), [None]),
        (EMAIL, MAILED, ("alice", "bob"), [None]),  # the approvers are mailed anyway
        (EMAIL, MAILED, ("alice",), [None, "email:alice@example.com,bob@example.com"]),
        (SLACK_HERE, MAILED, ("alice", "bob"), [None, "email:alice@example.com,bob@example.com"]),
        (SLACK_ELSEWHERE, QUIET, ("alice", "bob"), [None]),  # no approval_channel
    ],
)
def test_requests_for(
    origin: Origin, plan: Plan, approvers: tuple[str, ...], routes: list[str | None]
) -> None:
    req = request(plan, approvers)
    out = requests_for(
        thread(origin), config=CONFIG, plan=plan, request=req, now=NOW, new_id=new_id
    )
    assert [m.route for m in out] == routes
    assert {m.purpose for m in out} == {"approval_request"}
    text = approval_request_text(plan, approvers=list(approvers), min_approvals=1, timeout_s=3600)
    assert [m.text for m in out] == [text] * len(routes)


def closing(th: Thread, purpose: str = "result") -> list[tuple[str | None, str | None, str]]:
    out = closing_messages(th, text="Done.", purpose=purpose, now=LATER, new_id=new_id)  # type: ignore[arg-type]
    assert {(m.text, m.at) for m in out} == {("Done.", LATER)}
    return [(m.replaces, m.route, m.purpose) for m in out]


def test_closing_replaces_every_request_since_the_newest_one_the_threads_first() -> None:
    th = thread(
        ApiOrigin(),
        *asked(),
        sent("old-own"),
        sent("old-copy", "slack:C0OLD"),
        *asked(),
        sent("copy", "slack:C0DEPLOYS"),  # a copy recorded before the thread's own
        sent("own"),
        sent("chat", purpose="info"),
        sent("note", purpose="question"),
        sent("escalated", "slack:C0LEADS"),
    )
    assert closing(th) == [
        ("own", None, "result"),
        ("copy", "slack:C0DEPLOYS", "result"),
        ("escalated", "slack:C0LEADS", "result"),
    ]
    assert closing(th, "progress") == [
        ("own", None, "progress"),
        ("copy", "slack:C0DEPLOYS", "info"),
        ("escalated", "slack:C0LEADS", "info"),
    ]
    assert approval_message_id(th) == "own"


def test_closing_without_a_request_is_one_message_in_the_thread() -> None:
    assert closing(thread(ApiOrigin())) == [(None, None, "result")]
    assert closing(thread(ApiOrigin(), sent("hi", purpose="info"))) == [(None, None, "result")]
    assert approval_message_id(thread(ApiOrigin(), *asked(), sent("c", "slack:C1"))) is None


def test_closing_after_an_in_thread_escalation_replaces_the_newest_request() -> None:
    # The escalation's request replaced the first one in place; closing replaces it in turn.
    again = sent("again").model_copy(update={"replaces": "own"})
    th = thread(SLACK_LEADS, *asked(), sent("own"), again, sent("c", "email:e@x.com"))
    assert approval_message_id(th) == "again"
    assert closing(th) == [("again", None, "result"), ("c", "email:e@x.com", "result")]


def test_everywhere_is_the_thread_and_each_place_asked_once() -> None:
    th = thread(
        ApiOrigin(),
        *asked(),
        sent("own"),
        sent("c1", "slack:C0DEPLOYS"),
        sent("c2", "slack:C0LEADS"),
        sent("c3", "slack:C0DEPLOYS"),
    )
    out = everywhere(th, text="Reminder", purpose="question", now=LATER, new_id=new_id)
    assert [(m.route, m.replaces, m.purpose, m.text) for m in out] == [
        (None, None, "question", "Reminder"),
        ("slack:C0DEPLOYS", None, "question", "Reminder"),
        ("slack:C0LEADS", None, "question", "Reminder"),
    ]
    alone = everywhere(thread(ApiOrigin()), text="x", purpose="info", now=NOW, new_id=new_id)
    assert [(m.route, m.text) for m in alone] == [(None, "x")]


MAIL_COPY = "email:alice@example.com,bob@example.com"


@pytest.mark.parametrize(
    ("origin", "copies", "actor", "route"),
    [
        (SLACK_ELSEWHERE, ["slack:C0DEPLOYS", "slack:C0LEADS"], "slack:U0ALICE", "slack:C0LEADS"),
        (SLACK_ELSEWHERE, [], "slack:U0ALICE", None),
        (SLACK_HERE, [MAIL_COPY], "slack:U0ALICE", None),
        (SLACK_HERE, [MAIL_COPY], "email:alice@example.com", MAIL_COPY),
        (SLACK_HERE, [], "email:alice@example.com", "email:alice@example.com"),
        (SLACK_HERE, ["slack:C0LEADS"], "email:alice@example.com", "email:alice@example.com"),
        (EMAIL, [], "email:alice@example.com", None),
        (EMAIL, ["slack:C0DEPLOYS"], "slack:U0BOB", "slack:C0DEPLOYS"),
        (EMAIL, [], "slack:U0BOB", None),
        (ApiOrigin(), ["slack:C0DEPLOYS"], "email:bob@example.com", "email:bob@example.com"),
        (SLACK_ELSEWHERE, ["slack:C0DEPLOYS"], "terminal:alice", None),
        (SLACK_ELSEWHERE, ["slack:C0DEPLOYS", MAIL_COPY], "api:alice", None),
    ],
)
def test_reply_route(origin: Origin, copies: list[str], actor: str, route: str | None) -> None:
    th = thread(origin, *asked(), sent("own"), *[sent(f"c{i}", r) for i, r in enumerate(copies)])
    assert reply_route(th, Actor(actor)) == route


def escalate(
    origin: Origin, plan: Plan = PLAN, *more: Event, **env: object
) -> tuple[ApprovalEscalated, list[tuple[str, str, str | None, str | None]]]:
    """The escalation event, and each message as (text, purpose, route, replaces)."""
    th = thread(origin, *asked(plan), sent("own"), *more)
    open_approval = th.open_approval()
    assert isinstance(open_approval, OpenApproval)
    envc = CONFIG.environments[plan.environment].model_copy(update=env)
    first, *rest = escalation(
        th, env=envc, config=CONFIG, open_approval=open_approval, now=LATER, new_id=new_id
    )
    assert isinstance(first, ApprovalEscalated)
    assert (first.at, first.plan_hash) == (LATER, plan.plan_hash)
    messages = [m for m in rest if isinstance(m, MessageSent)]
    assert len(messages) == len(rest)
    assert all(m.at == LATER and m.to is None for m in messages)
    return first, [(m.text, m.purpose, m.route, m.replaces) for m in messages]


def note(asking: str) -> str:
    return (
        f"Nobody has decided plan #{PLAN.short_id} ({PLAN.describe()}) in 30 min; "
        f"escalating: asking {asking} too. It still expires at 10:00 UTC."
    )


def card(approvers: list[str], plan: Plan = PLAN) -> str:
    text = approval_request_text(plan, approvers=approvers, min_approvals=1, timeout_s=1800)
    return f"Escalated: no decision yet.\n{text}"


def test_escalation_asks_the_group_in_the_escalation_channel() -> None:
    escalated, messages = escalate(ApiOrigin())
    # alice already approves; carol asked for the deploy
    assert (escalated.to, escalated.approvers) == ("slack:C0LEADS", ["erin"])
    assert messages == [
        (note("erin in slack:C0LEADS"), "question", None, None),
        (card(["alice", "bob", "erin"]), "approval_request", "slack:C0LEADS", None),
    ]
    assert messages[1][0].endswith(
        "needs 1 approval from: alice, bob, erin (not carol). Expires in 30 min.\n"
        "Reply 'approve' or 'reject <reason>'."
    )


@pytest.mark.parametrize(
    ("env", "approvers", "asking", "last"),
    [
        (
            {"self_approval": True},
            ["carol", "erin"],
            "carol, erin in slack:C0LEADS",
            ("approval_request", "slack:C0LEADS", None),
        ),
        (
            {"escalate_approvers": ["bob"]},
            [],
            "more people in slack:C0LEADS",
            ("approval_request", "slack:C0LEADS", None),
        ),
        ({"escalate_to": None}, ["erin"], "erin", ("approval_request", None, "own")),
    ],
)
def test_who_and_where_an_escalation_asks(
    env: dict[str, object], approvers: list[str], asking: str, last: tuple[str, ...]
) -> None:
    escalated, messages = escalate(ApiOrigin(), PLAN, **env)
    assert escalated.approvers == approvers
    assert escalated.to == env.get("escalate_to", "slack:C0LEADS")
    assert messages[0][0].startswith(note(asking))
    assert messages[-1][1:] == last


def test_the_escalated_card_leaves_out_who_already_approved() -> None:
    yes = ApprovalDecided(
        id="d",
        at=NOW,
        plan_hash=PLAN.plan_hash,
        actor="slack:A",
        person="alice",
        decision="approve",
    )
    _, messages = escalate(ApiOrigin(), PLAN, yes)
    assert messages[-1][0] == card(["bob", "erin"])


def test_escalation_where_the_thread_already_is_asks_again_in_the_thread() -> None:
    escalated, messages = escalate(SLACK_LEADS)
    assert (escalated.to, escalated.approvers) == ("slack:C0LEADS", ["erin"])
    assert messages == [
        (
            f"{note('erin in slack:C0LEADS')}\n\n{card(['alice', 'bob', 'erin'])}",
            "approval_request",
            None,
            "own",  # in place of the first request (a Slack card gains the new approvers)
        )
    ]


def test_email_escalation_to_an_escalation_approver_stays_in_the_email_thread() -> None:
    escalated, messages = escalate(EMAIL, MAILED)  # erin is mailed as an approver anyway
    assert (escalated.to, escalated.approvers) == ("email:erin@example.com", ["erin"])
    assert [m[1:] for m in messages] == [("approval_request", None, "own")]
    escalated, messages = escalate(SLACK_HERE, MAILED)
    assert [m[1:] for m in messages] == [
        ("question", None, None),
        ("approval_request", "email:erin@example.com", None),
    ]
