"""No single Slack request stops the Slack channel: signed HTTP to the real Bolt app on
uvicorn, real Redis.

A body nested a thousand levels deep made ``json`` raise ``RecursionError`` in the route
(a 500, retried by Slack); now it is measured before parsing, refused with 400 and set
aside. A payload a listener fails on is acknowledged (Slack would resend it otherwise) and
set aside. After each hostile request, a valid mention is still accepted into the stream.
"""

import json
import time
import urllib.parse
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.app.webapp import BODY_CAPS
from bot.core.thread.set_aside import SetAside
from bot.shell.streams.set_aside import SetAsideInputs
from channels.slack import listeners as slack_listeners_module
from tests.fakes.slack_api import event
from tests.integration.channels.slack.test_slack import Harness
from tests.integration.channels.slack.test_slack import slack as slack  # the fixture
from tests.poison import hostile_json

FORM = "application/x-www-form-urlencoded"


async def set_aside(slack: Harness) -> list[SetAside]:
    store = SetAsideInputs(redis=slack.app.redis, keys=slack.app.context.keys)
    return await store.since(datetime.min.replace(tzinfo=UTC))


async def inbound_ids(slack: Harness) -> list[str]:
    entries: Any = await slack.app.redis.xrange(slack.app.context.keys.inbound())
    return [json.loads(f[b"e"])["event"]["id"] for _id, f in entries]


async def mention_is_accepted(slack: Harness, n: int) -> None:
    body = event("<@U0BOT> status", user="U0ALICE", ts=f"17{n:08d}.1", event_id=f"EvOK{n}")
    status, _ = await slack.post.event(body)
    assert status == 200
    assert (await inbound_ids(slack)).count(f"EvOK{n}") == 1


async def test_a_thousand_levels_of_nesting_are_refused_before_parsing(slack: Harness) -> None:
    deep = b'{"type": "event_callback", "event_id": "Ev1", "event": ' + b"[" * 1000
    deep += b"]" * 1000 + b"}"
    status, text = await slack.post.post(deep, "application/json")
    assert status == 400
    assert "nests 1001 levels deep (at most 64)" in text
    form = urllib.parse.urlencode({"payload": "[" * 5000 + "]" * 5000}).encode()
    status, text = await slack.post.post(form, FORM)
    assert status == 400
    assert "the form's payload: the JSON nests 5000 levels deep" in text
    assert [(s.channel, s.reason) for s in await set_aside(slack)] == [
        ("slack", "too_deep"),
        ("slack", "too_deep"),
    ]
    counters = await slack.app.context.metrics.counters()
    assert counters["inputs_set_aside_total|channel=slack,reason=too_deep"] == 2
    assert await inbound_ids(slack) == []
    await mention_is_accepted(slack, 1)


async def test_an_unsigned_hostile_body_is_refused_and_not_recorded(slack: Harness) -> None:
    status, _ = await slack.post.raw(b"[" * 100_000, {"Content-Type": "application/json"})
    assert status == 401
    assert await set_aside(slack) == []  # strangers cannot fill the audit


async def test_a_payload_a_listener_fails_on_is_acknowledged_and_set_aside(
    slack: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = slack_listeners_module.event_request

    def buggy(body: Any, *, bot_user_id: str | None) -> Any:
        if "boom" in json.dumps(body):
            raise RecursionError("a parser bug met on this payload")
        return real(body, bot_user_id=bot_user_id)

    monkeypatch.setattr(slack_listeners_module, "event_request", buggy)
    body = event("<@U0BOT> boom", user="U0ALICE", ts="1700000001.1", event_id="EvBOOM")
    status, _ = await slack.post.event(body)
    assert status == 200  # acknowledged: Slack does not send it again
    [item] = await set_aside(slack)
    assert (item.reason, item.ref) == ("parser_failed", "event_id EvBOOM")
    assert item.detail == "reading it raised RecursionError"
    await mention_is_accepted(slack, 2)


def _form(raw: bytes) -> bytes:
    return urllib.parse.urlencode({"payload": raw.decode("utf-8", "replace")}).encode()


def _event_with(inner: Any) -> bytes:
    body = event("<@U0BOT> hi", user="U0ALICE", ts="1700000009.1", event_id="EvFUZZ")
    body["event"]["blocks"] = inner
    body["event"]["text"] = json.dumps(inner)[:3000]
    return json.dumps(body).encode()


_requests = st.one_of(
    st.tuples(hostile_json, st.just("application/json")),
    st.tuples(hostile_json.map(_form), st.just(FORM)),
    st.tuples(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=30),
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
            max_leaves=40,
        ).map(_event_with),
        st.just("application/json"),
    ),
    st.tuples(st.binary(max_size=500), st.sampled_from([FORM, "application/json", "text/plain"])),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=_requests)
@example(request=(b"payload=" + b"%7B%22a%22%3A" * 200_000, FORM))  # over the cap, still sent
async def test_after_any_signed_request_the_next_mention_is_accepted(
    request: tuple[bytes, str], slack: Harness
) -> None:
    body, content_type = request
    if len(body) > BODY_CAPS["/slack/"]:
        # Refused by its size before it is read (or authenticated): a 413, or the connection
        # closed under the sender while it still writes. Never set aside: nobody said who.
        try:
            status, _ = await slack.post.post(body, content_type)
        except aiohttp.ClientError:
            status = 413
        assert status == 413
        await mention_is_accepted(slack, time.monotonic_ns() % 10**9)
        return
    status, _ = await slack.post.post(body, content_type)
    assert status < 500, (status, body[:200])  # answered, never a server error
    await mention_is_accepted(slack, time.monotonic_ns() % 10**9)
    if status >= 400:
        assert await set_aside(slack), "a refused signed request is set aside"
