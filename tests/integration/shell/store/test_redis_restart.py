"""Redis restarting under a running worker: nothing acknowledged is lost, work resumes."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import utc_now
from tests.conftest import mark_intact
from tests.support import calls, free_port, make_app, say, thread_of, write_setup


def start_redis(port: int, folder: Path) -> None:
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--daemonize",
            "yes",
            "--pidfile",
            str(folder / "redis.pid"),
            "--logfile",
            str(folder / "redis.log"),
        ],
        check=True,
    )


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    folder = tmp_path / "redis"
    folder.mkdir()
    port = free_port()
    start_redis(port, folder)
    for _ in range(100):  # --daemonize returns before the server answers
        if (
            b"PONG"
            in subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
        ):
            break
        time.sleep(0.05)
    mark_intact("deploybot", url=f"redis://127.0.0.1:{port}/0")  # kept in the AOF
    yield port, folder
    subprocess.run(
        ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False
    )


async def wait_until(predicate, timeout_s: float = 30) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout_s / 0.1)):
        try:
            if await predicate():
                return
        except Exception:  # Redis may be down for a moment
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_worker_survives_a_redis_restart(
    tmp_path: Path, private_redis: tuple[int, Path]
) -> None:
    port, folder = private_redis
    url = f"redis://127.0.0.1:{port}/0"
    config = write_setup(tmp_path)
    env = {
        **os.environ,
        "REDIS_URL": url,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_LEASE_TTL_MS": "1000",
        # Another server answers after the restart, so deploys wait a lock lease (+2 s).
        "DEPLOYBOT_LOCK_TTL_MS": "1000",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    redis = Redis.from_url(url)
    try:
        app = make_app(redis, prefix="deploybot", config_file=config, clock=utc_now)
        await app.context.queue.ensure_group()
        await say(app, "before", "slack:U0CAROL", "deploy backend to staging", new=True)
        await wait_until(lambda: _status(app, "before", "done"))

        # Redis goes away (as in a crash: no final save) and comes back from its AOF.
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False
        )
        await asyncio.sleep(1.5)
        start_redis(port, folder)
        await wait_until(lambda: redis.ping())

        await say(app, "after", "slack:U0CAROL", "deploy frontend to staging", new=True)
        await wait_until(lambda: _status(app, "after", "done"))
        assert (await thread_of(app, "before")).status == "done"  # kept through the restart
        assert [line.split()[1] for line in calls(tmp_path)] == ["backend", "frontend"]
        assert worker.poll() is None  # it rode the outage out
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
        await redis.aclose()


async def _status(app, thread_id: str, status: str) -> bool:  # type: ignore[no-untyped-def]
    thread = await app.context.store.load(thread_id)
    return thread is not None and thread.status == status
