"""The HTTP API in-process (the real Starlette app) with a real worker on real Redis."""

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.app.webapp import build_web_app
from bot.core.thread.events import ApprovalDecided, WebhookReceived
from bot.core.thread.origin import ApiOrigin, ScheduleOrigin
from bot.core.thread.thread import Thread
from channels.api import api_routes
from channels.api.auth import sign
from channels.api.bodies import ThreadView
from channels.api.webhook import delivery_thread_id
from tests.support import Clock, calls, make_app, seq_id, write_setup

TOKEN = "api-t0ken-for-tests"
SECRET = "webhook-s3cret-for-tests"
WEBHOOKS = """
[webhooks.ci]
instruction = "deploy backend {version} to staging"
report_to = "slack:C0DEPLOYS"
"""
BACKEND_PROD = "deploy backend v1.4.2 to production"


@dataclass
class Api:
    client: httpx.AsyncClient
    app: App
    base: Path
    clock: Clock

    async def launch(self, text: str = BACKEND_PROD, user: str = "carol") -> str:
        got = await self.client.post("/v1/threads", json={"text": text, "user": user})
        assert got.status_code == 201, got.text
        return str(got.json()["id"])

    async def thread(self, thread_id: str) -> ThreadView:
        got = await self.client.get(f"/v1/threads/{thread_id}")
        assert got.status_code == 200, got.text
        return ThreadView.model_validate(got.json())  # also checks the documented shape

    async def status(self, thread_id: str) -> str:
        return (await self.thread(thread_id)).status

    async def resume(self, thread_id: str, **body: str) -> httpx.Response:
        """An approval names the plan it decides, as a client does: the one GET shows."""
        if body.get("type") == "approval" and "plan_hash" not in body:
            shown = (await self.thread(thread_id)).approval
            body["plan_hash"] = shown.plan_hash if shown else "0" * 16
        return await self.client.post(f"/v1/threads/{thread_id}/events", json=body)

    async def hook(self, name: str, body: bytes, *, signature: str | None = None) -> httpx.Response:
        if signature is None:
            signature = sign(body, secret=SECRET)
        headers = {"X-Deploybot-Signature": signature}
        return await self.client.post(f"/v1/webhooks/{name}", content=body, headers=headers)

    async def settle(self) -> None:
        await self.app.worker.run_until_idle()


def web_client(
    app: App, *, clock: Clock, token: str | None, secret: str | None
) -> httpx.AsyncClient:
    routes = api_routes(
        config=app.context.config,
        ports=app.ports,
        api_token=token,
        webhook_secret=secret,
        clock=clock,
        new_id=seq_id,
    )
    web = build_web_app(app, routes=routes)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=web),
        base_url="http://deploybot.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.fixture
async def api(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Api]:
    config = write_setup(tmp_path)
    config.write_text(config.read_text() + WEBHOOKS)
    clock = Clock()
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    async with web_client(app, clock=clock, token=TOKEN, secret=SECRET) as client:
        yield Api(client=client, app=app, base=tmp_path, clock=clock)


def decisions(view: ThreadView) -> list[ApprovalDecided]:
    return [e for e in view.events if isinstance(e, ApprovalDecided)]


# -- launch -> approval -> resume -> done ----------------------------------------------------


async def test_launch_pause_for_approval_resume_done(api: Api) -> None:
    got = await api.client.post("/v1/threads", json={"text": BACKEND_PROD, "user": "carol"})
    assert got.status_code == 201
    created = got.json()
    assert created["status"] == "running"  # no worker has run yet: clients poll
    tid = created["id"]
    assert got.headers["location"] == f"/v1/threads/{tid}"
    first = await api.thread(tid)  # found at once, before any worker saw it
    assert first.status == "running"
    assert first.origin == ApiOrigin()
    assert first.approval is None

    await api.settle()
    view = await api.thread(tid)
    assert view.status == "awaiting_approval"
    assert view.approval is not None
    assert view.approval.plan.version == "v1.4.2"
    assert view.approval.plan.requester == "carol"
    assert view.approval.approvers == ["alice", "bob", "dave"]
    assert calls(api.base) == []

    refused = await api.resume(tid, type="approval", decision="approve", user="carol")
    assert refused.status_code == 403
    assert "carol can't approve deploys to production" in refused.json()["error"]

    ok = await api.resume(tid, type="approval", decision="approve", user="alice")
    assert ok.status_code == 202, ok.text
    assert ok.json()["status"] == "running"
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "done"
    assert view.approval is None
    assert len(calls(api.base)) == 1
    assert calls(api.base)[0].startswith("deploy backend v1.4.2 production ")
    assert [(d.person, d.actor) for d in decisions(view)] == [("alice", "api:alice")]

    again = await api.resume(tid, type="approval", decision="approve", user="bob")
    assert again.status_code == 409
    assert "not waiting for an approval (status done)" in again.json()["error"]
    await api.settle()
    assert len(calls(api.base)) == 1


async def test_requester_cannot_approve_own_production_deploy(api: Api) -> None:
    tid = await api.launch(user="alice")
    await api.settle()
    own = await api.resume(tid, type="approval", decision="approve", user="alice")
    assert own.status_code == 403
    assert "alice asked for this deploy" in own.json()["error"]
    stranger = await api.resume(tid, type="approval", decision="approve", user="mallory")
    assert stranger.status_code == 403
    assert "'mallory' is not in deploybot's [people]" in stranger.json()["error"]
    assert await api.status(tid) == "awaiting_approval"
    assert (
        await api.resume(tid, type="approval", decision="approve", user="bob")
    ).status_code == 202
    await api.settle()
    assert await api.status(tid) == "done"
    assert len(calls(api.base)) == 1


async def test_reject_with_reason(api: Api) -> None:
    tid = await api.launch()
    await api.settle()
    got = await api.resume(
        tid, type="approval", decision="reject", user="bob", reason="not during the sale"
    )
    assert got.status_code == 202
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "done"
    assert [(d.decision, d.reason) for d in decisions(view)] == [("reject", "not during the sale")]
    assert calls(api.base) == []


async def test_two_approvals_at_once_deploy_once(api: Api) -> None:
    """Both pass the synchronous check; the worker re-checks, so the plan runs once."""
    tid = await api.launch()
    await api.settle()
    answers = await asyncio.gather(
        api.resume(tid, type="approval", decision="approve", user="alice"),
        api.resume(tid, type="approval", decision="approve", user="bob"),
    )
    assert [a.status_code for a in answers] == [202, 202]
    await api.settle()
    assert await api.status(tid) == "done"
    assert len(calls(api.base)) == 1


async def test_409_when_the_thread_is_not_waiting_for_that(api: Api) -> None:
    tid = await api.launch()
    busy = await api.resume(tid, type="message", text="status", user="carol")
    assert busy.status_code == 409  # the worker has not answered the request yet
    assert "still working (status running)" in busy.json()["error"]
    await api.settle()
    said = await api.resume(tid, type="message", text="status", user="carol")
    assert said.status_code == 202  # waiting for a human: a message is welcome
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "awaiting_approval"
    assert [e.type for e in view.events[-2:]] == ["user_message", "message_sent"]

    staging = await api.launch("deploy backend to staging")
    await api.settle()
    assert await api.status(staging) == "done"
    nothing = await api.resume(staging, type="approval", decision="approve", user="alice")
    assert nothing.status_code == 409
    # A done thread takes a follow-up request, as a chat thread would.
    more = await api.resume(
        staging, type="message", text="rollback backend in staging to v1.4.1", user="carol"
    )
    assert more.status_code == 202
    await api.settle()
    assert await api.status(staging) == "done"
    assert [c.split()[2] for c in calls(api.base)] == ["v1.4.2", "v1.4.1"]


# -- bad requests ------------------------------------------------------------------------------


async def test_auth(api: Api) -> None:
    tid = await api.launch()
    bare = httpx.AsyncClient(transport=api.client._transport, base_url=str(api.client.base_url))
    async with bare:
        for headers in (
            {},
            {"Authorization": ""},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
        ):
            launch = await bare.post(
                "/v1/threads", json={"text": "help", "user": "carol"}, headers=headers
            )
            show = await bare.get(f"/v1/threads/{tid}", headers=headers)
            resume = await bare.post(
                f"/v1/threads/{tid}/events",
                json={"type": "approval", "decision": "approve", "user": "alice"},
                headers=headers,
            )
            unknown = await bare.get("/v1/threads/nope", headers=headers)  # 401 before 404
            for got in (launch, show, resume, unknown):
                assert got.status_code == 401, (headers, got.request.url)
                assert got.headers["www-authenticate"] == "Bearer"
                assert "Authorization: Bearer" in got.json()["error"]
        assert (await bare.get("/openapi.json")).status_code == 200  # the schema is public
    assert await api.app.context.store.recent_ids() == [tid]


async def test_api_off_without_a_token(api: Api) -> None:
    async with web_client(api.app, clock=api.clock, token=None, secret=None) as off:
        got = await off.post("/v1/threads", json={"text": "help", "user": "carol"})
        assert got.status_code == 503
        assert "DEPLOYBOT_API_TOKEN is not set" in got.json()["error"]
        hook = await off.post("/v1/webhooks/ci", content=b"{}")
        assert hook.status_code == 503
        assert "DEPLOYBOT_WEBHOOK_SECRET is not set" in hook.json()["error"]


LAUNCH_ERRORS: list[tuple[object, int, str]] = [
    ({"text": "help", "user": "mallory"}, 403, "'mallory' is not in deploybot's [people]"),
    ({"text": "help"}, 422, "user: required"),
    ({"text": " ", "user": "carol"}, 422, "text: must contain more than spaces"),
    ({"text": "help", "user": "carol", "as": "admin"}, 422, "as: unknown field"),
    (["help"], 422, "the body must be a JSON object"),
    ({"text": "x" * 70_000, "user": "carol"}, 413, "larger than 65536 bytes"),
]


async def test_launch_errors(api: Api) -> None:
    for body, status, error in LAUNCH_ERRORS:
        got = await api.client.post("/v1/threads", json=body)
        assert (got.status_code, error in got.json()["error"]) == (status, True), got.text
    assert await api.app.context.store.recent_ids() == []


async def test_not_json_and_unknown_threads(api: Api) -> None:
    got = await api.client.post("/v1/threads", content=b"text=help")
    assert got.status_code == 422
    assert got.json() == {"error": "the body is not valid JSON"}
    for tid in ("nope", "a}b", "x" * 200):
        assert (await api.client.get(f"/v1/threads/{tid}")).status_code == 404
    missing = await api.resume("nope", type="message", text="status", user="carol")
    assert missing.status_code == 404
    bad = await api.resume("nope", type="vote", user="carol")
    assert bad.status_code == 422
    assert "type: must be 'approval', 'message' or 'cancel'" in bad.json()["error"]


async def test_redis_down_is_503_and_nothing_is_claimed(
    api: Api, key_prefix: str, tmp_path: Path
) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    app = make_app(
        dead,
        prefix=key_prefix,
        config_file=Path(api.app.context.config.base_dir) / "deploybot.toml",
    )
    try:
        async with web_client(app, clock=api.clock, token=TOKEN, secret=SECRET) as client:
            got = await client.post("/v1/threads", json={"text": "help", "user": "carol"})
            assert got.status_code == 503
            assert "Redis is unreachable; nothing was accepted" in got.json()["error"]
    finally:
        await dead.aclose()


# -- webhooks ----------------------------------------------------------------------------------


async def test_signed_webhook_deploys_to_staging_once(api: Api) -> None:
    body = json.dumps({"version": "v1.4.1", "pipeline": "build 812"}).encode()
    got = await api.hook("ci", body)
    assert got.status_code == 201, got.text
    tid = got.json()["id"]
    assert got.json() == {"id": tid, "status": "running", "duplicate": False}
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "done"
    assert view.origin == ScheduleOrigin(name="webhook:ci", report_to="slack:C0DEPLOYS")
    received = view.events[0]
    assert isinstance(received, WebhookReceived)
    assert received.instruction == "deploy backend v1.4.1 to staging"
    assert [c.split()[:4] for c in calls(api.base)] == [["deploy", "backend", "v1.4.1", "staging"]]

    replay = await api.hook("ci", body)  # a retry or a replay of the same signed delivery
    assert replay.status_code == 200
    assert replay.json() == {"id": tid, "status": "done", "duplicate": True}
    await api.settle()
    assert len(calls(api.base)) == 1


async def test_replay_before_the_worker_ran_starts_one_thread(api: Api) -> None:
    body = b'{"version": "v1.4.2"}'
    first, second = await asyncio.gather(api.hook("ci", body), api.hook("ci", body))
    assert {first.status_code, second.status_code} <= {200, 201}
    assert first.json()["id"] == second.json()["id"]
    await api.settle()
    assert len(calls(api.base)) == 1
    assert await api.app.context.store.recent_ids() == [first.json()["id"]]


WEBHOOK_REFUSALS: list[tuple[str, bytes, str | None, int, str]] = [
    ("ci", b'{"version":"v1"}', "sha256=" + "0" * 64, 401, "does not match the body"),
    ("ci", b'{"version":"v1"}', "", 401, "missing X-Deploybot-Signature"),
    ("ci", b'{"version":"v1"}', sign(b'{"version":"v2"}', secret=SECRET), 401, "does not"),
    ("ci", b'{"version":"v1"}', sign(b'{"version":"v1"}', secret="guess"), 401, "does not"),
    ("nope", b'{"version":"v1"}', None, 404, "no webhook named 'nope' (configured: ci)"),
    ("ci", b'{"version":"v1; rm -rf /"}', None, 422, "version: must be 1-100 letters"),
    ("ci", b'{"version":"v1 to production"}', None, 422, "one word, no spaces"),
    ("ci", b'{"version":["v1"]}', None, 422, "version: must be a string or an integer"),
    ("ci", b'{"tag":"v1"}', None, 422, "missing field version"),
    ("ci", b"[1]", None, 422, "the body must be a JSON object"),
    ("ci", b"version=v1", None, 422, "the body must be a JSON object"),
]


async def test_webhook_refusals(api: Api) -> None:
    for name, body, signature, status, error in WEBHOOK_REFUSALS:
        got = await api.hook(name, body, signature=signature)
        assert (got.status_code, error in got.json()["error"]) == (status, True), got.text
    await api.settle()
    assert await api.app.context.store.recent_ids() == []
    assert calls(api.base) == []


async def test_a_retry_publishes_a_delivery_whose_first_try_died_halfway(api: Api) -> None:
    """The thread was saved but the process died before publishing its event: the sender's
    retry is answered as a duplicate and publishes the event, so the delivery is not lost."""
    body = b'{"version": "v1.4.0"}'
    tid = delivery_thread_id("ci", body)
    event = WebhookReceived(
        id=f"{tid}:received",
        at=api.clock(),
        name="ci",
        instruction="deploy backend v1.4.0 to staging",
    )
    origin = ScheduleOrigin(name="webhook:ci", report_to="slack:C0DEPLOYS")
    await api.app.context.store.save(
        Thread(id=tid, origin=origin, created_at=event.at, events=[event])
    )  # ... and no publish
    assert await api.app.worker.run_until_idle() == 0

    retry = await api.hook("ci", body)
    assert retry.status_code == 200
    assert retry.json() == {"id": tid, "status": "running", "duplicate": True}
    await api.settle()
    assert await api.status(tid) == "done"
    assert [c.split()[:4] for c in calls(api.base)] == [["deploy", "backend", "v1.4.0", "staging"]]


# -- issue 9.4: an approval lands only on the plan its author was shown ------------------------


async def test_a_swapped_plan_is_not_approved_by_decisions_on_the_old_one(api: Api) -> None:
    """carol asks for v1.4.1; the approvers read it; carol replaces it with v1.4.2. Two
    approvals naming the plan they were shown decide nothing, and two typed 'approve's are
    refused with the open plan shown: nothing deploys until someone approves v1.4.2 by name."""
    tid = await api.launch("deploy backend v1.4.1 to production")
    await api.settle()
    shown = (await api.thread(tid)).approval
    assert shown is not None
    assert shown.plan.version == "v1.4.1"

    swapped = await api.resume(tid, type="message", text=BACKEND_PROD, user="carol")
    assert swapped.status_code == 202
    await api.settle()
    now = (await api.thread(tid)).approval
    assert now is not None
    assert now.plan.version == "v1.4.2"

    for user in ("alice", "bob"):
        stale = await api.resume(
            tid, type="approval", decision="approve", user=user, plan_hash=shown.plan_hash
        )
        assert stale.status_code == 409, stale.text
        assert "nothing was decided" in stale.json()["error"]
    for user in ("alice", "bob"):
        # A bare 'approve' could mean the plan they read: refused before it is accepted,
        # naming the plan waiting now (the same policy check the worker makes).
        typed = await api.resume(tid, type="message", text="approve", user=user)
        assert typed.status_code == 409, typed.text
        assert f"say 'approve {now.plan.plan_hash[:4]}'" in typed.json()["error"]
    await api.settle()
    thread = await api.app.context.store.load(tid)
    assert thread is not None
    assert not any(e.type == "approval_decided" for e in thread.events)
    assert calls(api.base) == []
    assert await api.status(tid) == "awaiting_approval"

    named = await api.resume(tid, type="message", text=f"approve {now.plan.short_id}", user="bob")
    assert named.status_code == 202
    await api.settle()
    assert await api.status(tid) == "done"
    assert [c.split()[:4] for c in calls(api.base)] == [
        ["deploy", "backend", "v1.4.2", "production"]
    ]
