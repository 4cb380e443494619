"""letters_for(): which emails one outbound message becomes, to whom, threaded how (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.ports.outbound import ApprovalCard, OutboundMessage
from bot.core.thread.origin import EmailOrigin, Origin, ScheduleOrigin, SlackOrigin
from bot.core.thread.plan import Plan
from channels.email.compose import Letter, letters_for
from channels.email.token import verify_token

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SECRET = b"s3cret"
EMAILS = {"alice": "alice@example.com", "bob": "Bob@Example.com", "dave": "dave@example.com"}
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    requester="carol",
)
CARD = ApprovalCard(
    plan=PLAN,
    plan_hash=PLAN.plan_hash,
    approvers=["alice", "bob", "erin"],  # erin has no address
    min_approvals=1,
    expires_at=NOW + timedelta(hours=1),
)
SLACK = SlackOrigin(channel="C0DEPLOYS", thread_ts="1.1")
EMAIL = EmailOrigin(
    address="Dave@Example.com", subject="deploy backend", message_ids=["<req1@mail.example.com>"]
)
ROOT = "<deploybot.t1.thread@example.com>"
TOPIC = "[deploybot] deploy backend to production"


def letters(origin: Origin, **kw: object) -> list[Letter]:
    message = OutboundMessage(
        thread_id="t1",
        message_id="m1",
        origin=origin,
        text="Plan #abcd needs approval.",
        topic="deploy backend to production",
        **kw,
    )
    return letters_for(
        message, sender="deploybot@example.com", secret=SECRET, emails=EMAILS, now=NOW
    )


def summary(out: list[Letter]) -> list[tuple[str, str, str, str | None]]:
    """(recipient, To, Subject, Reply-To token or None) of each letter."""
    rows = []
    for letter in out:
        mail = letter.message
        assert mail["To"] == letter.recipient
        assert mail["From"] == "deploybot <deploybot@example.com>"
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["X-Deploybot-Thread"] == "t1"
        reply_to = mail["Reply-To"]
        token = None
        if reply_to is not None:
            local, _, domain = str(reply_to).partition("@")
            assert (local.partition("+")[0], domain) == ("deploybot", "example.com")
            token = local.partition("+")[2]
        rows.append((letter.recipient, str(mail["Subject"]), str(mail["In-Reply-To"]), token))
    return rows


def body(letter: Letter) -> str:
    part = letter.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_routed_message_goes_to_the_route_in_its_own_thread() -> None:
    out = letters(SLACK, route="email:alice@example.com,ops@example.com", purpose="result")
    assert summary(out) == [
        ("alice@example.com", TOPIC, ROOT, None),
        ("ops@example.com", TOPIC, ROOT, None),
    ]
    assert [str(m.message["References"]) for m in out] == [ROOT, ROOT]
    first, second = out
    assert first.key == "origin"
    assert first.message["Message-ID"] == "<deploybot.t1.m1@example.com>"
    assert second.key != "origin"
    assert str(second.message["Message-ID"]).startswith(f"<deploybot.t1.m1.{second.key}@")
    assert body(first) == "Plan #abcd needs approval.\n"


def test_an_approval_request_on_a_route_gives_tokens_only_to_its_approvers() -> None:
    out = letters(
        SLACK,
        route="email:bob@example.com,ops@example.com",
        purpose="approval_request",
        card=CARD,
    )
    rows = summary(out)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("bob@example.com", TOPIC, ROOT),  # an approver named by the route: a token
        ("ops@example.com", TOPIC, ROOT),  # not an approver: the news only
    ]  # alice is an approver but not on this route: nothing
    token = rows[0][3]
    assert token is not None
    assert rows[1][3] is None
    claim = verify_token(token, secret=SECRET, address="bob@example.com", now=NOW)
    assert (claim.thread_id, claim.plan_prefix) == ("t1", PLAN.plan_hash[:12])
    assert "The reply address is personal to you (bob@example.com)" in body(out[0])
    assert "reply to this email" not in body(out[1])


def test_a_schedule_reports_to_its_email_report_to() -> None:
    nightly = ScheduleOrigin(name="nightly", report_to="email:ops@example.com")
    assert summary(letters(nightly)) == [("ops@example.com", TOPIC, ROOT, None)]
    asked = summary(letters(nightly, purpose="approval_request", card=CARD))
    assert [(r[0], r[3] is not None) for r in asked] == [
        ("alice@example.com", True),  # a report_to asks every approver with an address
        ("bob@example.com", True),
        ("ops@example.com", False),
    ]
    assert letters(ScheduleOrigin(name="nightly")) == []
    assert letters(ScheduleOrigin(name="nightly", report_to="slack:C0OPS")) == []


def test_the_topic_falls_back_to_the_thread_id() -> None:
    message = OutboundMessage(
        thread_id="t1", message_id="m1", origin=SLACK, text="x", route="email:o@x.com"
    )
    [letter] = letters_for(message, sender="bot@x.com", secret=SECRET, emails={}, now=NOW)
    assert letter.message["Subject"] == "[deploybot] t1"
    assert letter.message["In-Reply-To"] == "<deploybot.t1.thread@x.com>"


@pytest.mark.parametrize(
    ("origin", "route"),
    [
        (EMAIL, None),
        (SLACK, "email:alice@example.com,bob@example.com"),
        (ScheduleOrigin(name="n", report_to="email:ops@example.com"), None),
    ],
)
def test_a_refusal_for_one_person_goes_to_them_alone(origin: Origin, route: str | None) -> None:
    out = letters(origin, to="email:X@Example.com", route=route, purpose="error")
    assert [(m.recipient, m.key, m.message["Reply-To"]) for m in out] == [
        ("x@example.com", "origin", None)
    ]


@pytest.mark.parametrize(
    "kw",
    [
        {"to": "slack:U1"},
        {"to": "slack:U1", "purpose": "approval_request", "card": CARD},
        {"purpose": "progress"},
    ],
)
def test_messages_that_mail_nobody(kw: dict[str, object]) -> None:
    assert letters(EMAIL, **kw) == []
    assert letters(SLACK, route="email:alice@example.com", **kw) == []


def test_nothing_is_mailed_for_a_slack_thread_without_an_email_route() -> None:
    assert letters(SLACK, purpose="approval_request", card=CARD) == []


def test_a_reply_to_an_email_request_continues_its_thread() -> None:
    [letter] = letters(EMAIL)
    assert summary([letter]) == [
        ("dave@example.com", "Re: deploy backend", "<req1@mail.example.com>", None)
    ]


def test_an_email_approval_request_asks_each_approver_and_tells_the_requester() -> None:
    rows = summary(letters(EMAIL, purpose="approval_request", card=CARD))
    assert [(r[0], r[3] is not None) for r in rows] == [
        ("alice@example.com", True),
        ("bob@example.com", True),
        ("dave@example.com", False),
    ]


@pytest.mark.parametrize(
    ("origin", "route", "recipients"),
    [
        (EMAIL, None, ["dave@example.com", "alice@example.com", "bob@example.com"]),
        (SLACK, "email:bob@example.com,ops@example.com", ["bob@example.com", "ops@example.com"]),
        (SLACK, "email:ops@example.com", ["ops@example.com"]),
        (
            ScheduleOrigin(name="n", report_to="email:ops@example.com"),
            None,
            ["ops@example.com", "alice@example.com", "bob@example.com"],
        ),
    ],
)
@pytest.mark.parametrize("purpose", ["progress", "result"])
def test_a_message_closing_a_request_goes_to_everyone_who_was_asked(
    origin: Origin, route: str | None, recipients: list[str], purpose: str
) -> None:
    out = letters(origin, route=route, purpose=purpose, card=CARD, replaces="m0")
    assert [m.recipient for m in out] == recipients
    assert all(m.message["Reply-To"] is None for m in out)
    assert len({m.key for m in out}) == len(out)
    assert len({m.message["Message-ID"] for m in out}) == len(out)
