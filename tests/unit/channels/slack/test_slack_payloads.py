"""Slack payload parsing tables: what each payload asks of the bot, and why some ask nothing."""

import json
from typing import Any

import pytest

from bot.core.thread.origin import SlackOrigin
from channels.slack.ids import button_value, derived_event_id, parse_button_value, thread_id_for
from channels.slack.payloads import (
    Decision,
    OpenRejectModal,
    Request,
    Skip,
    SlashCommand,
    action_request,
    clean_text,
    command_request,
    event_request,
    one_line,
    view_request,
)
from tests.fakes.slack_api import click, event, reject_submission, slash

BOT = "U0BOT"
TID = thread_id_for("T0TEST", "C1", "100.1")


def ev(text: str = "<@U0BOT> deploy backend to staging", **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"user": "U0CAROL", "ts": "100.1", "event_id": "Ev1", "channel": "C1"}
    return event(text, **(args | kw))


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    inner: Any = body
    for part in path[:-1]:
        inner = inner[part]
    del inner[path[-1]]
    return body


# -- events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "text", "root", "follow_up"),
    [
        (ev(), "deploy backend to staging", "100.1", False),
        (ev("<@U0BOT|deploybot>: status"), "status", "100.1", False),
        (ev("<@U0BOT>"), "help", "100.1", False),  # a bare mention: what can you do?
        (ev("deploy a &amp; b &lt;now&gt;"), "deploy a & b <now>", "100.1", False),
        (ev(thread_ts="99.5", ts="100.2"), "deploy backend to staging", "99.5", False),
        (ev("approve", kind="message", thread_ts="99.5", ts="100.2"), "approve", "99.5", True),
        (ev("status", kind="message", channel_type="im"), "status", "100.1", False),
        (
            ev("ok", kind="message", subtype="thread_broadcast", thread_ts="99.5"),
            "ok",
            "99.5",
            True,
        ),
    ],
)
def test_events_that_are_requests(
    body: dict[str, Any], text: str, root: str, follow_up: bool
) -> None:
    got = event_request(body, bot_user_id=BOT)
    assert isinstance(got, Request)
    assert got.text == text
    assert got.actor == "slack:U0CAROL"
    assert got.event_id == "Ev1"
    assert got.origin == SlackOrigin(channel="C1", thread_ts=root)
    assert got.thread_id == thread_id_for("T0TEST", "C1", root)
    assert got.follow_up is follow_up


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (ev(bot_id="B0OTHER"), "from a bot"),
        (ev(kind="message", subtype="bot_message", thread_ts="1.0"), "from a bot"),
        (ev(user=BOT), "from a bot"),
        (ev(kind="message", subtype="message_changed", thread_ts="1.0"), "subtype"),
        (ev(kind="message", subtype="message_deleted"), "subtype"),
        (ev("deploy backend to staging", kind="message"), "not addressed"),
        (ev("<@U0BOT> status", kind="message", thread_ts="1.0"), "app_mention"),
        (ev("", kind="message", thread_ts="1.0"), "no text"),
        (ev(kind="reaction_added"), "not handled"),
    ],
)
def test_events_that_are_not_requests(body: dict[str, Any], why: str) -> None:
    got = event_request(body, bot_user_id=BOT)
    assert isinstance(got, Skip)
    assert why in got.reason
    assert not got.malformed


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("event_id",), "event_id"),
        (("event",), "event"),
        (("event", "user"), "event.user"),
        (("event", "channel"), "event.channel"),
        (("event", "ts"), "event.ts"),
    ],
)
def test_malformed_events_name_the_missing_field(path: tuple[str, ...], named: str) -> None:
    got = event_request(without(ev(), *path), bot_user_id=BOT)
    assert isinstance(got, Skip)
    assert got.malformed
    assert got.reason.endswith(f"missing {named}")


def test_an_event_without_text_or_team_still_counts() -> None:
    body = without(without(ev(), "team_id"), "event", "team")
    got = event_request(without(body, "event", "text"), bot_user_id=BOT)
    assert isinstance(got, Request)
    assert got.text == "help"
    assert got.thread_id == thread_id_for("", "C1", "100.1")


# -- clicks, modals, commands ---------------------------------------------------------------


def tap(action_id: str = "deploybot_approve", value: str | None = None, **kw: Any) -> Any:
    value = button_value(TID, "3f2a9b1c00112233") if value is None else value
    args: dict[str, Any] = {"user": "U0BOB", "channel": "C1", "message_ts": "100.2"}
    return click(action_id, value, **(args | {"thread_ts": "100.1"} | kw))


def test_approve_click() -> None:
    got = action_request(tap())
    assert got == Decision(  # the plan hash travels as data, not as text to parse again
        thread_id=TID,
        event_id=derived_event_id(
            "click", "U0BOB", "deploybot_approve", "1700000099.000001", "100.2"
        ),
        actor="slack:U0BOB",
        decision="approve",
        plan_hash="3f2a9b1c00112233",
    )
    assert action_request(tap()) == got  # a replayed click is the same event
    again = action_request(tap(action_ts="1700000100.000001"))
    assert isinstance(again, Decision)
    assert again.event_id != got.event_id  # a second click is a new one


def test_reject_click_opens_the_modal() -> None:
    got = action_request(tap("deploybot_reject", trigger_id="trig-9"))
    assert got == OpenRejectModal(
        thread_id=TID, plan_hash="3f2a9b1c00112233", trigger_id="trig-9", user="U0BOB"
    )


@pytest.mark.parametrize(
    ("body", "why", "malformed"),
    [
        (tap("something_else"), "not ours", False),
        (tap(value="no-colon"), "bad button value", True),
        (tap(value=f"{TID}:NOTHEX"), "bad button value", True),
        (without(tap(), "user"), "missing user.id", True),
        (without(tap(), "actions"), "missing actions[0]", True),
        (without(tap(), "actions", 0, "action_ts"), "missing actions[0].action_ts", True),
        (without(tap("deploybot_reject"), "trigger_id"), "missing trigger_id", True),
    ],
)
def test_clicks_that_do_nothing(body: Any, why: str, malformed: bool) -> None:
    got = action_request(body)
    assert isinstance(got, Skip)
    assert why in got.reason
    assert got.malformed is malformed


def meta(thread_id: str = TID, plan_hash: str = "3f2a9b1c00112233") -> str:
    return json.dumps({"t": thread_id, "p": plan_hash})


def test_reject_reason_submitted() -> None:
    body = reject_submission(user="U0BOB", private_metadata=meta(), reason="  too\nrisky\t today ")
    got = view_request(body)
    assert isinstance(got, Decision)
    assert (got.decision, got.plan_hash) == ("reject", "3f2a9b1c00112233")
    assert got.reason == "too risky today"
    assert got.thread_id == TID
    assert got.actor == "slack:U0BOB"
    assert got.event_id == view_request(body).event_id  # type: ignore[union-attr]


def submitted(private_metadata: str, reason: str = "x") -> dict[str, Any]:
    return reject_submission(user="U0BOB", private_metadata=private_metadata, reason=reason)


@pytest.mark.parametrize(
    ("body", "kind", "malformed"),
    [
        (submitted(meta(), reason=" \n "), "needs_reason", False),
        (submitted("{"), "skip", True),
        (submitted(meta(plan_hash="zz")), "skip", True),
        (without(submitted(meta()), "user"), "skip", True),
    ],
)
def test_reject_submissions_that_are_not_decisions(body: Any, kind: str, malformed: bool) -> None:
    got = view_request(body)
    assert isinstance(got, Skip)
    assert (got.kind, got.malformed) == (kind, malformed)


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("backend v1.4.2 to production", "deploy backend v1.4.2 to production"),
        ("deploy backend to staging", "deploy backend to staging"),
        ("rollback backend in production", "rollback backend in production"),
        ("Status", "Status"),
        ("help", "help"),
        ("", ""),
        ("  backend\nto   staging ", "deploy backend to staging"),
    ],
)
def test_slash_command_words(typed: str, text: str) -> None:
    got = command_request(slash(typed, user="U0CAROL", channel="C1", trigger_id="trig-1"))
    assert isinstance(got, SlashCommand)
    assert got.text == text
    request = got.request("200.1")
    assert request.origin == SlackOrigin(channel="C1", thread_ts="200.1")
    assert request.thread_id == thread_id_for("T0TEST", "C1", "200.1")
    assert request.event_id == derived_event_id("command", "trig-1")


@pytest.mark.parametrize("field", ["user_id", "channel_id", "trigger_id"])
def test_slash_command_missing_a_field(field: str) -> None:
    body = slash("backend to staging", user="U0CAROL", trigger_id="trig-1")
    del body[field]
    got = command_request(body)
    assert isinstance(got, Skip)
    assert got.malformed
    assert field in got.reason


# -- small pure helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bot", "want"),
    [
        ("<@U0BOT> deploy", "U0BOT", "deploy"),
        ("<@U0BOT>, deploy", "U0BOT", "deploy"),
        ("<@U0OTHER> deploy", "U0BOT", "<@U0OTHER> deploy"),
        ("<@U0BOT> deploy", None, "<@U0BOT> deploy"),
        ("say &lt;@U1&gt; &amp;", None, "say <@U1> &"),
    ],
)
def test_clean_text(text: str, bot: str | None, want: str) -> None:
    assert clean_text(text, bot_user_id=bot) == want


def test_one_line() -> None:
    assert one_line("a\nb\x00c\td ") == "a b c d"
    assert one_line("x" * 500) == "x" * 300


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (button_value("s0123abcdef01", "3f2a9b1c"), ("s0123abcdef01", "3f2a9b1c")),
        ("s1:3f2a", ("s1", "3f2a")),
        ("s1", None),
        ("s 1:3f2a", None),
        ("s1:3f2", None),
        ("s1:3F2A", None),
        (":3f2a", None),
    ],
)
def test_button_values(value: str, want: tuple[str, str] | None) -> None:
    assert parse_button_value(value) == want


def test_thread_ids_are_stable_and_distinct() -> None:
    a = thread_id_for("T1", "C1", "100.1")
    assert a == thread_id_for("T1", "C1", "100.1")
    assert len({a, thread_id_for("T1", "C2", "100.1"), thread_id_for("T2", "C1", "100.1")}) == 3
    assert a.startswith("s")
    assert len(a) == 13
