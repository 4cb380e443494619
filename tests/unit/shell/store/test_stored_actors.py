"""Threads stored by older code load unchanged, whatever actor string its edges wrote: the
codec reads stored actors as recorded (a known channel, then the id as written), while an
edge still refuses the same string from outside. Each shape below is one that code before
the typed actor (a192ca5) could store; the JSON is written by hand, compressed as that code
did (format z2), and read through ``decode_thread``, the only way a stored thread is read."""

import json
import zlib
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.thread.events import UserMessage
from bot.core.thread.text.actor import Actor, ActorError
from bot.shell.store.codec import _DICTIONARY_V2, decode_thread, encode_thread

AT = "2026-11-02T09:00:00Z"


def stored(events: list[dict[str, Any]], *, origin: dict[str, Any] | None = None) -> bytes:
    """A thread as code before this issue stored it: its JSON, z2-compressed."""
    thread = {
        "id": "t-old",
        "origin": origin or {"kind": "terminal", "session": "s1"},
        "agent": "deploy",
        "created_at": AT,
        "events": [{"id": f"e{i}", "at": AT, **e} for i, e in enumerate(events)],
    }
    compressor = zlib.compressobj(6, zdict=_DICTIONARY_V2)
    return b"z2" + compressor.compress(json.dumps(thread).encode()) + compressor.flush()


def said(actor: str) -> dict[str, Any]:
    return {"type": "user_message", "actor": actor, "text": "deploy backend to staging"}


OLD_SHAPES = [
    # `deploybot chat --user "Jane Doe"` or a $USER with a space: taken as given
    ("terminal:Jane Doe", "terminal", "Jane Doe"),
    ("terminal:jane doe", "terminal", "jane doe"),  # `/user jane doe` (lower-cased)
    ("terminal:", "terminal", ""),  # `--user ""`
    ('email:"jane doe"@example.com', "email", '"jane doe"@example.com'),  # quoted local part
    ("email:alice@example.com", "email", "alice@example.com"),
    ("api:carol", "api", "carol"),  # a [people] name
    ("slack:U0ALICE", "slack", "U0ALICE"),
    ("slack:U0 ALICE", "slack", "U0 ALICE"),  # whatever a signed payload's user said
    ("webhook:ci deploy", "webhook", "ci deploy"),  # a webhook named as the config spelled it
    ("schedule:nightly", "schedule", "nightly"),
    ("email:" + "a" * 330 + "@example.com", "email", "a" * 330 + "@example.com"),
]


@pytest.mark.parametrize(("text", "channel", "ident"), OLD_SHAPES)
def test_every_actor_older_code_stored_loads_typed_and_saves_back_the_same(
    text: str, channel: str, ident: str
) -> None:
    events = [
        said(text),
        {"type": "approval_refused", "actor": text, "reason": "not an approver"},
        {"type": "message_sent", "text": "no", "purpose": "error", "to": text},
        {
            "type": "decision_received",
            "actor": text,
            "decision": "approve",
            "plan_hash": "ab12",
        },
        {
            "type": "approval_decided",
            "plan_hash": "ab12",
            "actor": text,
            "person": "alice",
            "decision": "approve",
        },
    ]
    thread = decode_thread(stored(events), version=3)
    actors = [getattr(e, "actor", None) or getattr(e, "to", None) for e in thread.events]
    assert len(actors) == 5
    for actor in actors:
        assert isinstance(actor, Actor)
        assert (actor.channel, actor.id, str(actor)) == (channel, ident, text)
    assert thread.requester() == text
    # Saved again by today's code and read back: the same strings.
    again = decode_thread(encode_thread(thread), version=4)
    assert again.events == thread.events


@pytest.mark.parametrize(
    "text", ["terminal:jane doe", 'email:"jane doe"@example.com', "slack:U0 ALICE", "terminal:"]
)
def test_the_same_string_from_outside_is_still_refused_at_the_edge(text: str) -> None:
    with pytest.raises(ActorError, match="not an actor"):
        Actor(text)
    with pytest.raises(ValidationError, match="not an actor"):
        UserMessage(id="e", at=AT, actor=text, text="hi")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not an actor"):  # JSON from outside, too
        UserMessage.model_validate_json(json.dumps({"id": "e", "at": AT, **said(text)}))


@pytest.mark.parametrize("text", ["alice", "Slack:U1", "cli:carol", ""])
def test_a_stored_string_without_a_channel_was_never_written_and_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="channel"):
        decode_thread(stored([said(text)]), version=1)


def test_a_webhook_thread_with_a_spaced_name_is_still_answered() -> None:
    """Its requester is the webhook as the config names it (next_step asks for it)."""
    event = {"type": "webhook_received", "name": "ci deploy", "instruction": "deploy backend"}
    origin = {"kind": "schedule", "name": "webhook:ci deploy", "report_to": None}
    thread = decode_thread(stored([event], origin=origin), version=1)
    requester = thread.requester()
    assert requester is not None
    assert (requester.channel, requester.id) == ("webhook", "ci deploy")
