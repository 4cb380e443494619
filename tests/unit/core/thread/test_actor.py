"""A typed actor (bot.core.thread.text.actor): parsed once where a channel builds the event, read
as ``channel`` and ``id`` after, stored as the same string, and refused clearly when a string
is not one: at each channel's edge a malformed identity is a refusal, never a crash."""

import base64
from datetime import UTC, datetime
from pathlib import Path, PurePath

import pytest
from pydantic import ValidationError

from bot.core.config.config import parse_config
from bot.core.thread.events import ApprovalDecided, DecisionReceived, MessageSent, UserMessage
from bot.core.thread.text.actor import Actor, ActorError
from bot.shell.store.codec import decode_thread
from channels.api.resume import api_person
from channels.slack.payloads import (
    Request,
    Skip,
    action_request,
    command_request,
    event_request,
)

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
API_CONFIG = """
[people.alice]
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging"]
[environments.staging]
"""


@pytest.mark.parametrize(
    ("text", "channel", "ident"),
    [
        ("slack:U0ALICE", "slack", "U0ALICE"),
        ("email:alice@example.com", "email", "alice@example.com"),
        ("email:Alice@Example.com", "email", "Alice@Example.com"),  # kept as the channel said
        ("api:carol", "api", "carol"),
        ("terminal:carol", "terminal", "carol"),
        ("schedule:nightly", "schedule", "nightly"),
        ("webhook:ci", "webhook", "ci"),
        ("slack:U1:extra", "slack", "U1:extra"),  # only the first colon separates
    ],
)
def test_an_actor_parses_into_channel_and_id_and_formats_back(
    text: str, channel: str, ident: str
) -> None:
    actor = Actor(text)
    assert (actor.channel, actor.id) == (channel, ident)
    assert actor == text
    assert str(actor) == text
    assert Actor.of(actor.channel, actor.id) == actor
    assert {actor: 1}[text] == 1  # the same key as its string


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("alice", "no channel"),
        ("", "no channel"),
        ("s:A", "unknown channel"),
        ("Slack:U1", "unknown channel"),
        ("slack:", "empty id"),
        ("slack: U1", "a space"),
        ("slack:U1 ", "a space"),
        ("terminal:carol smith", "a space"),
        ("slack:U1\nforged", "unprintable"),
        ("email:a\x00@example.com", "unprintable"),
        ("email:" + "a" * 321, "longer than 320"),
    ],
)
def test_a_string_that_is_no_actor_is_refused_saying_why(text: str, why: str) -> None:
    with pytest.raises(ActorError, match=why):
        Actor(text)
    with pytest.raises(ValidationError, match=why):
        UserMessage(id="e", at=AT, actor=text, text="hi")


def test_events_store_an_actor_as_the_same_string_and_load_it_typed() -> None:
    decided = DecisionReceived(
        id="e", at=AT, actor="email:alice@example.com", decision="approve", plan_hash="ab12"
    )
    stored = decided.model_dump_json()
    assert '"actor":"email:alice@example.com"' in stored
    loaded = DecisionReceived.model_validate_json(stored)
    assert isinstance(loaded.actor, Actor)
    assert (loaded.actor.channel, loaded.actor.id) == ("email", "alice@example.com")
    told = MessageSent(id="m", at=AT, text="no", to="slack:U0BOB")
    assert isinstance(told.to, Actor)
    assert told.model_dump()["to"] == "slack:U0BOB"


def test_a_thread_stored_before_actors_were_typed_loads_them_typed() -> None:
    golden = Path(__file__).resolve().parents[2] / "golden" / "thread_before_layout.b64"
    thread = decode_thread(base64.b64decode(golden.read_text()), version=1)
    people = [e for e in thread.events if isinstance(e, UserMessage | ApprovalDecided)]
    assert people
    assert all(isinstance(e.actor, Actor) and e.actor.channel for e in people)


@pytest.mark.parametrize("user", ["U 1", "U1\n", "\u202eU1"])
def test_a_slack_user_id_that_is_no_id_is_a_malformed_skip(user: str) -> None:
    event = {
        "event_id": "Ev1",
        "event": {"type": "app_mention", "user": user, "channel": "C1", "ts": "1.1", "text": "hi"},
    }
    click = {
        "user": {"id": user},
        "actions": [{"action_id": "deploybot_approve", "value": "t1:ab12", "action_ts": "1"}],
    }
    command = {"user_id": user, "channel_id": "C1", "trigger_id": "t", "text": "status"}
    for parsed in (
        event_request(event, bot_user_id=None),
        action_request(click),
        command_request(command),
    ):
        assert isinstance(parsed, Skip)
        assert parsed.malformed
        assert "not an actor" in parsed.reason


def test_a_slack_request_carries_the_actor_parsed_at_the_edge() -> None:
    event = {
        "event_id": "Ev1",
        "event": {"type": "app_mention", "user": "U0ALICE", "channel": "C1", "ts": "1.1"},
    }
    request = event_request(event, bot_user_id=None)
    assert isinstance(request, Request)
    assert (request.actor.channel, request.actor.id) == ("slack", "U0ALICE")


@pytest.mark.parametrize(
    ("user", "person"),
    [
        ("alice", "alice"),
        (" Alice ", "alice"),  # as before: trimmed and lower-cased
        ("bob smith", None),  # no actor: nobody, so a 403, never a crash
        ("", None),
        ("al\x00ice", None),
        ("mallory", None),
    ],
)
def test_the_api_parses_its_body_user_once(user: str, person: str | None) -> None:
    config = parse_config(API_CONFIG, base_dir=PurePath("/srv"))
    assert api_person(config, user) == person
