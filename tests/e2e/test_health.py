"""End to end: Redis losing its data, restarting, or a task dying for good, under a real
``deploybot run`` / ``deploybot worker`` on a Redis server this test starts on its own port
(no persistence, like a cache-configured production Redis). Each shows what an operator
sees (/healthz, /metrics, the log) and that requests accepted afterwards are deployed."""

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.conftest import mark_intact
from tests.harness import Processes, RedisServer, api_client, bot_env, launch, until_status
from tests.support import calls, free_port, stop_processes, write_setup

pytestmark = pytest.mark.e2e

TOKEN = "health-api-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, keeping nothing on disk; stopped by PID."""
    with RedisServer(tmp_path / "redis").running() as redis:
        mark_intact("deploybot", url=redis.url)  # running a while; a loss then waits a lease
        yield redis


def start(base: Path, url: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """``deploybot ARGS`` on ``url``, logging to ``<command>.log``; the test stops it."""
    config = base / "deploybot.toml"
    if not config.exists():
        write_setup(base)
    env = bot_env(
        {
            "REDIS_URL": url,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_API_TOKEN": TOKEN,
            "DEPLOYBOT_LEASE_TTL_MS": "1000",
            "DEPLOYBOT_LOCK_TTL_MS": "1000",  # after a loss, deploys wait 3 s (not 32 s)
        }
    )
    log = f"{args[0]}.log"
    return Processes(env, base).start(*args, log=log), base / log


def log_lines(log: Path) -> list[dict[str, object]]:
    out = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


async def until_health(client: httpx.AsyncClient, status: int, *, timeout_s: float = 10) -> dict:  # type: ignore[type-arg]
    seen: object = None
    for _ in range(int(timeout_s / 0.05)):
        try:
            got = await client.get("/healthz")
            seen = (got.status_code, got.text)
            if got.status_code == status:
                return dict(got.json())
        except httpx.TransportError as exc:
            seen = exc
        await asyncio.sleep(0.05)
    raise AssertionError(f"/healthz never answered {status}; last: {seen}")


async def until_lag_zero(client: httpx.AsyncClient, *, timeout_s: float = 10) -> None:
    """The inbound stream has nothing unhandled (every entry acknowledged) again."""
    health: dict = {}  # type: ignore[type-arg]
    for _ in range(int(timeout_s / 0.05)):
        health = await until_health(client, 200)
        if health["stream_lag"] == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"entries stayed unacknowledged: {health}")


async def until_recovered(client: httpx.AsyncClient, *, timeout_s: float = 10) -> None:
    """Every task back to "ok" (each retries on its own backoff)."""
    body: dict[str, object] = {}
    for _ in range(int(timeout_s / 0.05)):
        body = await until_health(client, 200)
        tasks = body["tasks"]
        assert isinstance(tasks, dict)
        assert {"worker", "scheduler", "timers"} <= set(tasks)
        if set(tasks.values()) == {"ok"}:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not every task recovered: {body}")


def data_lost_lines(log: Path) -> list[dict[str, object]]:
    return [
        line
        for line in log_lines(log)
        if line["level"] == "error" and "Redis lost its data" in str(line["message"])
    ]


async def metric(client: httpx.AsyncClient, name: str) -> str:
    body = (await client.get("/metrics")).text
    return next(line for line in body.splitlines() if line.startswith(name + " "))


async def test_restart_without_persistence_is_said_and_work_resumes(
    tmp_path: Path, server: RedisServer
) -> None:
    port = free_port()
    run, log = start(tmp_path, server.url, "run", "--host", "127.0.0.1", "--port", str(port))
    try:
        async with api_client(port, TOKEN) as client:
            await until_health(client, 200)
            before = await launch(client, "deploy backend to staging")
            await until_status(client, before, "done", timeout_s=10)

            server.crash()
            down = await until_health(client, 503)
            assert str(down["redis"]).startswith("unreachable")
            assert down["ok"] is False
            server.start()
            await until_health(client, 200)
            await until_recovered(client)

            after = await launch(client, "deploy frontend to staging")
            await until_status(client, after, "done", timeout_s=10)
            # What was accepted before the loss is gone, and the operator is told so.
            assert (await client.get(f"/v1/threads/{before}")).status_code == 404
            assert await metric(client, "deploybot_redis_data_lost_total") == (
                "deploybot_redis_data_lost_total 1"
            )
        assert [line.split()[1] for line in calls(tmp_path)] == ["backend", "frontend"]
        assert len(data_lost_lines(log)) == 1
        assert run.poll() is None
    finally:
        stop_processes([run])


async def test_flushall_under_a_running_worker_is_said_and_work_resumes(
    tmp_path: Path, server: RedisServer
) -> None:
    port = free_port()
    run, log = start(tmp_path, server.url, "run", "--host", "127.0.0.1", "--port", str(port))
    redis = Redis.from_url(server.url)
    try:
        async with api_client(port, TOKEN) as client:
            await until_health(client, 200)
            await until_status(
                client, await launch(client, "deploy backend to staging"), "done", timeout_s=10
            )

            await redis.flushall()
            after = await launch(client, "deploy frontend to staging")
            await until_status(client, after, "done", timeout_s=10)
            # The entry is acknowledged just after the thread it finished is saved, so a
            # reader can see "done" a moment before the lag returns to 0: wait for it.
            await until_lag_zero(client)
            assert await metric(client, "deploybot_redis_data_lost_total") == (
                "deploybot_redis_data_lost_total 1"
            )
        assert [line.split()[1] for line in calls(tmp_path)] == ["backend", "frontend"]
        assert len(data_lost_lines(log)) == 1
    finally:
        stop_processes([run])
        await redis.aclose()


async def test_first_request_after_a_restart_is_accepted(
    tmp_path: Path, server: RedisServer
) -> None:
    """Pooled connections die with the server; the first request must not answer 503."""
    port = free_port()
    web, _log = start(tmp_path, server.url, "web", "--host", "127.0.0.1", "--port", str(port))
    try:
        async with api_client(port, TOKEN) as client:
            await until_health(client, 200)
            # Several requests at once: the pool keeps several connections open.
            await asyncio.gather(*(launch(client, "deploy backend to staging") for _ in range(8)))
            server.crash()
            server.start()  # back (empty), and nothing of ours has touched it yet
            answers = await asyncio.gather(
                *(
                    client.post("/v1/threads", json={"text": "status", "user": "carol"})
                    for _ in range(8)
                )
            )
            assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    finally:
        stop_processes([web])


async def test_a_task_that_dies_for_good_is_named_and_the_process_exits(
    tmp_path: Path, server: RedisServer
) -> None:
    """The api outbox's stream replaced by a string: its pump cannot recover (WRONGTYPE)."""
    port = free_port()
    run, run_log = start(tmp_path, server.url, "run", "--host", "127.0.0.1", "--port", str(port))
    worker, worker_log = start(tmp_path, server.url, "worker")
    redis = Redis.from_url(server.url)
    try:
        async with api_client(port, TOKEN) as client:
            await until_health(client, 200)
            for _ in range(100):  # the worker's pumps are up once their groups exist
                if await redis.exists("deploybot:outbox:api"):
                    break
                await asyncio.sleep(0.05)
            await redis.delete("deploybot:outbox:api")
            await redis.set("deploybot:outbox:api", "not a stream")
            sick = await until_health(client, 503)
            assert str(sick["tasks"]["outbox:api"]).startswith("dead: ResponseError: WRONGTYPE")  # type: ignore[index]
            assert sick["tasks"]["worker"] == "ok"  # type: ignore[index]
            assert sick["redis"] == "ok"
        assert run.wait(timeout=10) == 1
        assert worker.wait(timeout=10) == 1
    finally:
        stop_processes([run, worker])
        await redis.aclose()
    for log, command in ((run_log, "run"), (worker_log, "worker")):
        died = [line for line in log_lines(log) if "died" in str(line["message"])]
        assert len(died) == 1, died
        assert died[0]["level"] == "error"
        assert str(died[0]["message"]).startswith("task outbox:api died: ResponseError: WRONGTYPE")
        assert f"deploybot {command} exits (status 1)" in str(died[0]["message"])
