"""End to end: ``deploybot web`` and ``deploybot worker`` as processes on real Redis, driven
over HTTP through the /v1 API and a signed webhook."""

import json
import signal
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from channels.api.auth import sign
from tests.conftest import TEST_REDIS_URL
from tests.harness import (
    Processes,
    api_client,
    bot_env,
    healthy,
    launch,
    read_thread,
    until_status,
    webhook_toml,
)
from tests.support import calls, free_port, write_setup

pytestmark = pytest.mark.e2e

TOKEN = "e2e-api-token"
SECRET = "e2e-webhook-secret"
WEBHOOK = webhook_toml("ci", "deploy frontend {version} to staging")


async def test_launch_approve_done_over_http(tmp_path: Path, key_prefix: str, redis: Redis) -> None:
    config = write_setup(tmp_path, tail=WEBHOOK)
    port = free_port()
    env = bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
            "DEPLOYBOT_API_TOKEN": TOKEN,
            "DEPLOYBOT_WEBHOOK_SECRET": SECRET,
        }
    )
    with Processes(env, tmp_path, logs=False) as procs:
        web, worker = procs.web(port), procs.start("worker")
        await healthy(port, alive=procs.procs)
        async with api_client(port, TOKEN) as client:
            await drive(client, tmp_path)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert web.returncode in (0, -signal.SIGTERM)
    assert worker.returncode == 0


async def drive(client: httpx.AsyncClient, base: Path) -> None:
    assert (await client.get("/openapi.json")).json()["openapi"] == "3.1.0"
    no_token = await client.post(
        "/v1/threads",
        json={"text": "deploy backend to production", "user": "carol"},
        headers={"Authorization": ""},
    )
    assert no_token.status_code == 401

    tid = await launch(client, "deploy backend v1.4.2 to production")
    await until_status(client, tid, "awaiting_approval", timeout_s=15)

    shown = (await read_thread(client, tid))["approval"]["plan_hash"]

    async def decide(user: str) -> int:
        body = {"type": "approval", "decision": "approve", "user": user, "plan_hash": shown}
        return (await client.post(f"/v1/threads/{tid}/events", json=body)).status_code

    assert await decide("carol") == 403  # not an approver (and the requester)
    assert await decide("bob") == 202
    await until_status(client, tid, "done", timeout_s=15)
    assert await decide("alice") == 409  # nothing is waiting any more
    assert [line.split()[:4] for line in calls(base)] == [
        ["deploy", "backend", "v1.4.2", "production"]
    ]

    body = json.dumps({"version": "v2.0.0"}).encode()

    async def hook(secret: str) -> httpx.Response:
        signature = {"X-Deploybot-Signature": sign(body, secret=secret)}
        return await client.post("/v1/webhooks/ci", content=body, headers=signature)

    assert (await hook("not-the-secret")).status_code == 401
    hooked = await hook(SECRET)
    assert hooked.status_code == 201, hooked.text
    await until_status(client, hooked.json()["id"], "done", timeout_s=15)
    assert [line.split()[1:4] for line in calls(base)][-1] == ["frontend", "v2.0.0", "staging"]
