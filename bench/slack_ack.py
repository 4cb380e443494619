"""Benchmark: how fast ``deploybot web`` acknowledges Slack events, and that none is lost.

A benchmark, not a test: pytest never collects it. Run from the repository root, with a
Redis at the URL (default ``redis://127.0.0.1:6379/0``):

    .venv/bin/python bench/slack_ack.py [--events 500] [--concurrency 500] [--redis-url URL]

It starts one ``deploybot web`` process (HTTP mode) against a tiny local fake of the Slack
Web API (only ``auth.test`` is needed), sends one warm-up mention, then ``--events`` signed
``app_mention`` events, each in its own Slack thread, with at most ``--concurrency`` in
flight (the default: all at once, a burst). Each ack time is measured from sending the
request to reading Slack's 200, as Slack would see it. Then it checks that every event is
in the inbound stream (entries and distinct threads), prints p50/p90/p99/max, and removes
its Redis keys, temp files and the process (SIGTERM, then SIGKILL), also on error.
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import ClientSession, TCPConnector, web
from redis.asyncio import Redis

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
CONFIG = """
[people.carol]
slack = "U0CAROL"
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging"]
[environments.staging]
"""


async def fake_slack() -> tuple[web.AppRunner, str]:
    async def api(request: web.Request) -> web.Response:
        if request.match_info["method"] == "auth.test":
            return web.json_response(
                {"ok": True, "team_id": "T0B", "user_id": "U0BOT", "bot_id": "B0BOT"}
            )
        return web.json_response({"ok": True, "ts": "1.1"})

    app = web.Application()
    app.router.add_post("/api/{method}", api)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/api/"


def mention(n: int) -> bytes:
    ts = f"1700000000.{n:06d}"
    return json.dumps(
        {
            "team_id": "T0B",
            "api_app_id": "A0B",
            "type": "event_callback",
            "event_id": f"EvBENCH{n:06d}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": "U0CAROL",
                "text": "<@U0BOT> deploy backend to staging",
                "ts": ts,
                "channel": "C0BENCH",
                "event_ts": ts,
            },
        }
    ).encode()


def signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


async def send(session: ClientSession, url: str, n: int) -> tuple[int, float]:
    body = mention(n)
    headers = signed(body)
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status, (time.perf_counter() - started) * 1000


def start_web(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--host", "127.0.0.1"], env=env, cwd=cwd
    )


async def wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with ClientSession() as session:
        for _ in range(400):
            if proc.poll() is not None:
                raise SystemExit(f"deploybot web exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise SystemExit("deploybot web did not become healthy")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace, tmp: Path, prefix: str, redis: Redis) -> int:
    (tmp / "deploybot.toml").write_text(CONFIG)
    runner, api_url = await fake_slack()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DEPLOYBOT_"))}
    env |= {
        "REDIS_URL": args.redis_url,
        "DEPLOYBOT_CONFIG": str(tmp / "deploybot.toml"),
        "DEPLOYBOT_KEY_PREFIX": prefix,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": api_url,
        "PORT": str(port),
    }
    env |= dict(item.split("=", 1) for item in args.web_env)
    proc = start_web(env, tmp)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        url = f"http://127.0.0.1:{port}/slack/events"
        limit = asyncio.Semaphore(args.concurrency)

        async def one(session: ClientSession, n: int) -> tuple[int, float]:
            async with limit:
                return await send(session, url, n)

        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            status, _ = await send(session, url, 0)  # warm-up (Bolt asks auth.test once)
            assert status == 200, f"warm-up got {status}"
            cpu_before = cpu_s(proc.pid)
            began = time.perf_counter()
            results = await asyncio.gather(*(one(session, n) for n in range(1, args.events + 1)))
            wall_s = time.perf_counter() - began
            web_cpu_s = cpu_s(proc.pid) - cpu_before
        entries = await redis.xrange(f"{prefix}:inbound")
        threads = {json.loads(fields[b"e"])["thread_id"] for _eid, fields in entries}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await runner.cleanup()
    ok = sum(1 for status, _ in results if status == 200)
    acks = [ms for _, ms in results]
    print(f"events sent: {args.events} (+1 warm-up), concurrency {args.concurrency}")
    print(
        f"acked 200: {ok}/{args.events}; in the stream: {len(entries)} entries, "
        f"{len(threads)} distinct threads (expected {args.events + 1})"
    )
    print(
        f"ack ms: p50 {percentile(acks, 50):.1f}  p90 {percentile(acks, 90):.1f}  "
        f"p99 {percentile(acks, 99):.1f}  max {max(acks):.1f}  mean {statistics.mean(acks):.1f}"
    )
    print(
        f"wall: {wall_s:.2f} s ({args.events / wall_s:.0f} events/s); web process CPU "
        f"{web_cpu_s * 1000 / args.events:.2f} ms per event"
    )
    lost = ok != args.events or len(entries) != args.events + 1 or len(threads) != len(entries)
    return 1 if lost else 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--web-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the web process (e.g. DEPLOYBOT_LOG_LEVEL=WARNING)",
    )
    args = parser.parse_args()
    prefix = f"bench-slack-{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="deploybot-slack-bench-"))
    redis = Redis.from_url(args.redis_url)
    try:
        return await run(args, tmp, prefix, redis)
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.unlink(key)
        await redis.aclose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
