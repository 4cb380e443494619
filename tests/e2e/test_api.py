"""End to end: ``deploybot web`` and ``deploybot worker`` as processes on real Redis, driven
over HTTP through the /v1 API and a signed webhook."""

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from channels.api.auth import sign
from tests.conftest import TEST_REDIS_URL
from tests.support import calls, free_port, inherited_env, stop_processes, write_setup

pytestmark = pytest.mark.e2e

TOKEN = "e2e-api-token"
SECRET = "e2e-webhook-secret"


async def healthy(client: httpx.AsyncClient, web: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert web.poll() is None, "deploybot web exited"
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("deploybot web never became healthy")


async def until_status(client: httpx.AsyncClient, thread_id: str, status: str) -> None:
    seen = None
    for _ in range(300):
        got = await client.get(f"/v1/threads/{thread_id}")
        assert got.status_code == 200, got.text
        seen = got.json()["status"]
        if seen == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"thread {thread_id} stayed {seen}, never {status}")


async def test_launch_approve_done_over_http(tmp_path: Path, key_prefix: str, redis: Redis) -> None:
    config = write_setup(tmp_path)
    config.write_text(
        config.read_text() + '[webhooks.ci]\ninstruction = "deploy frontend {version} to staging"\n'
    )
    port = free_port()
    inherited = inherited_env()
    env = inherited | {
        "REDIS_URL": TEST_REDIS_URL,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": key_prefix,
        "DEPLOYBOT_API_TOKEN": TOKEN,
        "DEPLOYBOT_WEBHOOK_SECRET": SECRET,
    }
    commands = [
        ["web", "--host", "127.0.0.1", "--port", str(port)],
        ["worker"],
    ]
    procs = [
        subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path)
        for args in commands
    ]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ) as client:
            await healthy(client, procs[0])
            await drive(client, tmp_path)
    finally:
        stop_processes(procs)
    # uvicorn re-raises the SIGTERM it handled once it has shut down cleanly.
    assert procs[0].returncode in (0, -signal.SIGTERM)
    assert procs[1].returncode == 0


async def drive(client: httpx.AsyncClient, base: Path) -> None:
    assert (await client.get("/openapi.json")).json()["openapi"] == "3.1.0"
    no_token = await client.post(
        "/v1/threads",
        json={"text": "deploy backend to production", "user": "carol"},
        headers={"Authorization": ""},
    )
    assert no_token.status_code == 401

    launched = await client.post(
        "/v1/threads", json={"text": "deploy backend v1.4.2 to production", "user": "carol"}
    )
    assert launched.status_code == 201, launched.text
    tid = launched.json()["id"]
    await until_status(client, tid, "awaiting_approval")

    shown = (await client.get(f"/v1/threads/{tid}")).json()["approval"]["plan_hash"]

    async def decide(user: str) -> int:
        body = {"type": "approval", "decision": "approve", "user": user, "plan_hash": shown}
        return (await client.post(f"/v1/threads/{tid}/events", json=body)).status_code

    assert await decide("carol") == 403  # not an approver (and the requester)
    assert await decide("bob") == 202
    await until_status(client, tid, "done")
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
    await until_status(client, hooked.json()["id"], "done")
    assert [line.split()[1:4] for line in calls(base)][-1] == ["frontend", "v2.0.0", "staging"]
