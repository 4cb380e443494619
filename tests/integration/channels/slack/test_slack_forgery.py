"""Forged, replayed and malformed requests to ``/slack/events`` of the real web app (Bolt
behind ``build_web_app`` on uvicorn, real Redis, the real deploy script): none of them acts.

Each attack is counted where it would show: the inbound stream and the deploy script's log.
"""

import json
import logging
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.core.errors import ConfigError
from bot.core.thread.events import DecisionReceived
from channels.slack import slack_listeners, slack_routes
from tests.fakes.slack_api import click, event, sign
from tests.integration.channels.slack.test_slack import CHANNEL, REQUEST, ROOT, SECRET, Harness
from tests.integration.channels.slack.test_slack import slack as slack  # the fixture
from tests.support import Clock, calls, make_app, write_setup


def listeners_with(secret: str | None, redis: Redis, key_prefix: str, tmp_path: Path) -> Any:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path), clock=Clock())
    return slack_listeners(
        bot_token="xoxb-unused",
        signing_secret=secret,
        api_url="http://127.0.0.1:9/api/",
        ports=app.ports,
        clock=Clock(),
    )


@pytest.mark.parametrize("secret", ["", "   "])
async def test_an_empty_signing_secret_is_a_configuration_error(
    secret: str, redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is empty"):
        listeners_with(secret, redis, key_prefix, tmp_path)


async def test_without_a_secret_socket_mode_only_and_no_http_route(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    socket_only = listeners_with(None, redis, key_prefix, tmp_path)  # Socket Mode: fine
    assert socket_only.signing_secret is None
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is not set"):
        slack_routes(socket_only)


async def awaiting_approval(slack: Harness) -> dict[str, Any]:
    """alice (the requester) asks for production; bob's click would deploy it."""
    assert await slack.say(REQUEST, user="U0ALICE") == 200
    await slack.pump()
    assert (await slack.thread()).status == "awaiting_approval"
    return slack.card()


def bob_clicks(card: dict[str, Any], n: int = 1) -> bytes:
    value = card["blocks"][-1]["elements"][0]["value"]
    payload = click(
        "deploybot_approve",
        value,
        user="U0BOB",
        channel=CHANNEL,
        message_ts=card["ts"],
        thread_ts=ROOT,
        action_ts=f"1700000600.{n:06d}",
    )
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


FORM = "application/x-www-form-urlencoded"


async def test_unsigned_and_forged_requests_never_act(slack: Harness) -> None:
    card = await awaiting_approval(slack)
    before = await slack.inbound()
    mention = json.dumps(
        event("<@U0BOT> approve", user="U0BOB", ts="1700000002.1", event_id="EvFORGED")
    ).encode()
    approve = bob_clicks(card)
    now = int(time.time())
    attacks: list[tuple[str, bytes, dict[str, str]]] = [
        ("unsigned mention", mention, {"Content-Type": "application/json"}),
        ("unsigned click", approve, {"Content-Type": FORM}),
        ("click, wrong secret", approve, {"Content-Type": FORM} | sign("guess", approve)),
        ("click, empty secret", approve, {"Content-Type": FORM} | sign("", approve)),
        (
            "click, stale timestamp",
            approve,
            {"Content-Type": FORM} | sign(SECRET, approve, timestamp=now - 400),
        ),
        (
            "click, future timestamp",
            approve,
            {"Content-Type": FORM} | sign(SECRET, approve, timestamp=now + 400),
        ),
        (
            "click, non-numeric timestamp",
            approve,
            {"Content-Type": FORM, "X-Slack-Request-Timestamp": "soon"}
            | {"X-Slack-Signature": sign(SECRET, approve)["X-Slack-Signature"]},
        ),
        (
            "click, signature of another body",
            approve,
            {"Content-Type": FORM} | sign(SECRET, bob_clicks(card, 2)),
        ),
        (
            "click, signature without v0=",
            approve,
            {"Content-Type": FORM, **sign(SECRET, approve)}
            | {"X-Slack-Signature": sign(SECRET, approve)["X-Slack-Signature"][3:]},
        ),
    ]
    for what, body, headers in attacks:
        status, said = await slack.post.raw(body, headers)
        assert (what, status) == (what, 401), said
    await slack.pump()
    assert await slack.inbound() == before
    assert calls(slack.base) == []
    assert (await slack.thread()).status == "awaiting_approval"

    # The same click, signed, is what Slack sends: it deploys.
    assert (await slack.post.raw(approve, {"Content-Type": FORM} | sign(SECRET, approve)))[0] == 200
    await slack.pump()
    assert len(calls(slack.base)) == 1


async def test_a_click_publishes_the_plan_hash_as_data_and_deploys_once(slack: Harness) -> None:
    card = await awaiting_approval(slack)
    approve = bob_clicks(card)
    headers = {"Content-Type": FORM} | sign(SECRET, approve)
    assert (await slack.post.raw(approve, headers))[0] == 200
    retry = headers | {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert (await slack.post.raw(approve, retry))[0] == 200  # Slack's retry of that click
    second = bob_clicks(card, 2)  # bob clicks again before the card changes
    assert (await slack.post.raw(second, {"Content-Type": FORM} | sign(SECRET, second)))[0] == 200
    await slack.pump()
    assert len(calls(slack.base)) == 1

    thread = await slack.thread()
    decisions = [e for e in thread.events if isinstance(e, DecisionReceived)]
    plan_hash = card["blocks"][-1]["elements"][0]["value"].partition(":")[2]
    assert [(d.actor, d.decision, d.plan_hash) for d in decisions] == [
        ("slack:U0BOB", "approve", plan_hash),
        ("slack:U0BOB", "approve", plan_hash),  # the second click: a new event, told off
    ]
    assert not [e for e in thread.events if e.type == "user_message" and "approve" in e.text]
    assert thread.status == "done"


async def test_a_click_on_a_superseded_card_decides_nothing_and_is_answered(
    slack: Harness,
) -> None:
    first = await awaiting_approval(slack)
    newer = "<@U0BOT> deploy backend v1.4.1 to production"
    assert await slack.say(newer, user="U0ALICE", ts="1700000003.000001", thread_ts=ROOT) == 200
    await slack.pump()
    assert slack.card()["ts"] != first["ts"]
    stale = bob_clicks(first)
    assert (await slack.post.raw(stale, {"Content-Type": FORM} | sign(SECRET, stale)))[0] == 200
    await slack.pump()
    [told] = slack.ephemeral("U0BOB")
    assert "no longer waiting for a decision" in told
    assert "superseded by" in told
    assert calls(slack.base) == []
    thread = await slack.thread()
    assert thread.status == "awaiting_approval"
    assert not [e for e in thread.events if e.type == "approval_decided"]


def signed(body: bytes, content_type: str) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": content_type} | sign(SECRET, body)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


def form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode()


def mention(**changes: Any) -> dict[str, Any]:
    body = event(REQUEST, user="U0ALICE", ts="1700000009.1", event_id="EvODD", channel=CHANNEL)
    inner = changes.pop("event", {})
    return body | {"event": body["event"] | inner} | changes


def tap(**changes: Any) -> dict[str, Any]:
    value = "s0123456789ab:3f2a9b1c00112233"
    payload = click("deploybot_approve", value, user="U0BOB", channel=CHANNEL, message_ts="1.2",
                    thread_ts=ROOT)  # fmt: skip
    return payload | changes


def in_form(payload: Any) -> bytes:
    return form(payload=json.dumps(payload))


JSON = "application/json"
MALFORMED: list[tuple[str, bytes, dict[str, str]]] = [
    # the eight that answered 500
    ("malformed JSON", *signed(b'{"type": "event_callback", ', JSON)),
    ("a JSON array", *signed(b"[]", JSON)),
    ("JSON null", *signed(b"null", JSON)),
    ("a JSON string", *signed(b'"event_callback"', JSON)),
    ("event as a string", *signed(as_json(mention() | {"event": "x"}), JSON)),
    ("user as a number", *signed(as_json(mention(event={"user": 42})), JSON)),
    ("form payload not JSON", *signed(form(payload="{not json"), FORM)),
    (
        "unsigned, non-numeric timestamp",
        as_json(mention()),
        {"Content-Type": JSON, "X-Slack-Request-Timestamp": "1e9", "X-Slack-Signature": "v0=0"},
    ),
    # their neighbours
    ("text/plain", *signed(as_json(mention()), "text/plain")),
    ("no content type", as_json(mention()), sign(SECRET, as_json(mention()))),
    ("no type", *signed(as_json({k: v for k, v in mention().items() if k != "type"}), JSON)),
    ("type a number", *signed(as_json(mention(type=7)), JSON)),
    ("unknown type", *signed(as_json(mention(type="app_rate_limited")), JSON)),
    ("challenge missing", *signed(as_json({"type": "url_verification"}), JSON)),
    ("challenge a number", *signed(as_json({"type": "url_verification", "challenge": 5}), JSON)),
    ("no event", *signed(as_json({k: v for k, v in mention().items() if k != "event"}), JSON)),
    ("event a list", *signed(as_json(mention() | {"event": []}), JSON)),
    ("event_id a number", *signed(as_json(mention(event_id=12)), JSON)),
    ("event.type a list", *signed(as_json(mention(event={"type": ["app_mention"]})), JSON)),
    ("event.channel an object", *signed(as_json(mention(event={"channel": {}})), JSON)),
    ("text a number", *signed(as_json(mention(event={"text": 1})), JSON)),
    ("team_id a number", *signed(as_json(mention(team_id=1)), JSON)),
    ("authorizations of strings", *signed(as_json(mention(authorizations=["x"])), JSON)),
    ("not UTF-8", *signed(b'{"type": "\xff"}', JSON)),
    ("empty body", *signed(b"", JSON)),
    ("empty form", *signed(b"", FORM)),
    ("payload an array", *signed(in_form([tap()]), FORM)),
    ("payload without type", *signed(in_form({"user": {"id": "U0BOB"}}), FORM)),
    ("payload of unknown type", *signed(in_form(tap(type="dialog_submission")), FORM)),
    ("user a string", *signed(in_form(tap(user="U0BOB")), FORM)),
    ("user.id a number", *signed(in_form(tap(user={"id": 5})), FORM)),
    ("actions a string", *signed(in_form(tap(actions="approve")), FORM)),
    ("actions of strings", *signed(in_form(tap(actions=["approve"])), FORM)),
    ("team a string", *signed(in_form(tap(team="T0TEST")), FORM)),
    ("view a string", *signed(in_form(tap(type="view_submission", view="v")), FORM)),
    ("payload twice", *signed(form(payload="{}") + b"&" + in_form(tap()), FORM)),
    ("ssl_check", *signed(form(ssl_check="1", token="x"), FORM)),
    ("a form of nothing we know", *signed(form(hello="world"), FORM)),
    ("not URL-encoded", *signed(b"payload", FORM)),
]


@pytest.mark.parametrize(
    ("body", "headers"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
async def test_malformed_payloads_get_a_4xx_or_a_logged_200_and_do_nothing(
    slack: Harness, body: bytes, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="deploybot.slack")
    status, _said = await slack.post.raw(body, headers)
    assert 400 <= status < 500 or (status == 200 and caplog.records), (status, caplog.text)
    await slack.pump()
    assert await slack.inbound() == 0
    assert calls(slack.base) == []
    assert [c.method for c in slack.fake.calls if c.method != "auth.test"] == []
    # ... and the next valid request works
    assert await slack.say(REQUEST, user="U0ALICE") == 200
    await slack.pump()
    assert (await slack.thread()).status == "awaiting_approval"
