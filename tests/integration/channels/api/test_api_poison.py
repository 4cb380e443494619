"""No single body stops the HTTP API or the webhooks: the real web app on uvicorn, real
Redis, a real worker and deploy script.

Bodies are measured before they are parsed (nested deeper than 64: 422, set aside); a
handler that raises answers 500 and is set aside instead of dropping the connection; a
stranger's body is refused without filling the audit. After each hostile request the next
valid one is accepted, and its deploy is counted in the deploy script's call log.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.app.webapp import build_web_app
from bot.core.thread.set_aside import SetAside
from bot.shell.streams.set_aside import SetAsideInputs
from channels.api import api_routes
from channels.api import channel as api_channel
from channels.api.auth import sign
from channels.api.edge import MAX_BODY_BYTES
from tests.integration.channels.slack.test_slack import serving
from tests.poison import hostile_json
from tests.support import Clock, calls, make_app, seq_id, write_setup

TOKEN = "api-t0ken-for-poison-tests"
SECRET = "webhook-s3cret-for-poison-tests"
WEBHOOKS = """
[webhooks.ci]
instruction = "deploy backend {version} to staging"
report_to = "slack:C0DEPLOYS"
"""


@dataclass
class Served:
    app: App
    client: httpx.AsyncClient
    base: Path

    async def set_aside(self) -> list[SetAside]:
        store = SetAsideInputs(redis=self.app.redis, keys=self.app.context.keys)
        return await store.since(datetime.min.replace(tzinfo=UTC))

    async def launch_deploys(self) -> None:
        """A valid launch is accepted, and the worker deploys it exactly once."""
        before = len(calls(self.base))
        got = await self.client.post(
            "/v1/threads", json={"text": "deploy backend to staging", "user": "carol"}
        )
        assert got.status_code == 201, got.text
        await self.app.worker.run_until_idle()
        assert len(calls(self.base)) == before + 1


@pytest.fixture
async def served(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Served]:
    config = write_setup(tmp_path)
    config.write_text(config.read_text() + WEBHOOKS)
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    routes = api_routes(
        config=app.context.config,
        ports=app.ports,
        api_token=TOKEN,
        webhook_secret=SECRET,
        clock=clock,
        new_id=seq_id,
    )
    async with serving(build_web_app(app, routes=routes)) as url:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            yield Served(app=app, client=client, base=tmp_path)


DEEP = b'{"text": "deploy backend to staging", "user": "carol", "x": ' + b"[" * 2000
DEEP += b"]" * 2000 + b"}"


async def test_deep_bodies_are_refused_before_parsing_and_set_aside(served: Served) -> None:
    got = await served.client.post("/v1/threads", content=DEEP)
    assert got.status_code == 422
    assert got.json() == {"error": "the JSON nests 2001 levels deep (at most 64)"}
    hook = b'{"version": "v1.4.2", "x": ' + b"{" * 100 + b"}" * 100 + b"}"
    headers = {"X-Deploybot-Signature": sign(hook, secret=SECRET)}
    got = await served.client.post("/v1/webhooks/ci", content=hook, headers=headers)
    assert got.status_code == 422
    assert [(s.channel, s.reason, s.ref) for s in await served.set_aside()] == [
        ("api", "too_deep", "POST /v1/threads"),
        ("webhook", "too_deep", "POST /v1/webhooks/ci"),
    ]
    counters = await served.app.context.metrics.counters()
    assert counters["inputs_set_aside_total|channel=api,reason=too_deep"] == 1
    await served.launch_deploys()


async def test_strangers_bodies_are_refused_without_filling_the_audit(served: Served) -> None:
    unsigned = await served.client.post("/v1/webhooks/ci", content=DEEP)
    assert unsigned.status_code == 401
    huge = await served.client.post(
        "/v1/webhooks/ci", content=b"[" * 100_000, headers={"X-Deploybot-Signature": "sha256=0"}
    )
    assert huge.status_code == 413
    no_token = await served.client.post(
        "/v1/threads", content=DEEP, headers={"Authorization": "Bearer wrong"}
    )
    assert no_token.status_code == 401
    # Over the cap, a body is refused before anyone reads it, so before anyone knows who
    # sent it (the web app's BodyCap): answered 413, never recorded.
    big = await served.client.post("/v1/threads", content=b"[" * 100_000)
    assert big.status_code == 413
    assert await served.set_aside() == []
    await served.launch_deploys()


async def test_a_handler_that_raises_answers_500_and_is_set_aside(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = await served.client.post("/v1/threads", json={"text": "help", "user": "carol"})
    thread_id = thread.json()["id"]

    def buggy(**_kwargs: object) -> object:
        raise RecursionError("a bug met on this body")

    monkeypatch.setattr(api_channel, "check_resume", buggy)
    got = await served.client.post(
        f"/v1/threads/{thread_id}/events",
        json={"type": "message", "text": "status", "user": "carol"},
    )
    assert got.status_code == 500
    assert "set aside for an operator" in got.json()["error"]
    [item] = await served.set_aside()
    assert (item.channel, item.reason) == ("api", "handler_failed")
    assert item.detail == "handling it raised RecursionError"
    monkeypatch.undo()
    await served.launch_deploys()


def _route(raw: bytes) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.sampled_from(["/v1/threads", "/v1/threads/t1/events", "/v1/webhooks/ci"]).map(
        lambda path: (path, raw)
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=hostile_json.filter(lambda raw: len(raw) <= MAX_BODY_BYTES).flatmap(_route))
async def test_after_any_body_the_next_request_is_handled(
    request: tuple[str, bytes], served: Served
) -> None:
    path, body = request  # within the cap (over it, BodyCap answers 413 as it reads)
    headers = {"X-Deploybot-Signature": sign(body, secret=SECRET)}  # signed: fully read
    got = await served.client.post(path, content=body, headers=headers)
    assert got.status_code < 500, (got.status_code, got.text)
    assert isinstance(got.json()["error" if got.status_code >= 400 else "id"], str)
    await served.launch_deploys()
