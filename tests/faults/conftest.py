"""The fault suite's rig: a Redis server of the test's own (started on a free port, stopped by
PID), ``deploybot web`` and ``deploybot worker`` as processes on it, and a deploy script that
writes a ledger line when it starts and when it ends, so re-runs and overlaps are counted from
timestamps, never assumed.

Ledger lines (``scripts/ledger.log``)::

    start <idempotency key> <unix time> <pid> <fencing token> <service> <environment>
    end <idempotency key> <unix time> <pid> <ok|term>

The script waits while ``scripts/gate`` (or ``scripts/gate.<service>.<environment>``) exists
(a test holds a deploy at a known point), and
when ``scripts/stop_worker_at_exit`` exists it SIGSTOPs the worker (its supervisor's parent)
after writing its end line: the worker is then frozen after the command exited and before it
could read the exit status or save anything.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
import redis

from tests.conftest import mark_intact
from tests.support import free_port, inherited_env, write_setup

__all__ = [
    "Bot",
    "Call",
    "FaultRig",
    "RedisServer",
    "ledger",
    "overlaps",
    "running",
    "wait_until",
]

TOKEN = "faults-api-token"

LEDGER_SCRIPT = """#!/bin/sh
here="$(dirname "$0")"
key="$DEPLOYBOT_IDEMPOTENCY_KEY"
now() { date +%s.%N; }
echo "start $key $(now) $$ $DEPLOYBOT_FENCING_TOKEN $1 $3" >> "$here/ledger.log"
trap 'echo "end $key $(now) $$ term" >> "$here/ledger.log"; exit 143' TERM
while [ -e "$here/gate" ] || [ -e "$here/gate.$1.$3" ]; do sleep 0.05; done
echo "end $key $(now) $$ ok" >> "$here/ledger.log"
if [ -e "$here/stop_worker_at_exit" ]; then
  worker="$(awk '{print $4}' "/proc/$PPID/stat")"
  kill -STOP "$worker"
fi
echo "$1 $2 is live"
"""

# Asked by idempotency key after a worker died mid-deploy: 0 finished, 3 unknown.
STATUS_SCRIPT = """#!/bin/sh
here="$(dirname "$0")"
grep -q "^end $DEPLOYBOT_IDEMPOTENCY_KEY .* ok$" "$here/ledger.log" && exit 0
exit 3
"""

Persistence = Literal["none", "everysec", "always"]


def running(pid: int) -> bool:
    """Running: a zombie (State Z, waiting for its reaper) counts as gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return state.split()[1] not in ("Z", "X")


def stopped(pid: int) -> bool:
    """The process is stopped by a signal (State T)."""
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "T"


async def wait_until(
    predicate: Callable[[], Awaitable[bool]], *, timeout_s: float = 20, what: str = "condition"
) -> float:
    """Poll every 20 ms; returns the seconds it took."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while not await predicate():
        assert loop.time() - began < timeout_s, f"timed out after {timeout_s} s waiting: {what}"
        await asyncio.sleep(0.02)
    return loop.time() - began


# -- Redis ----------------------------------------------------------------------------------


class RedisServer:
    """A redis-server process of the test's own; ``kill9`` and ``start`` again on the same
    port and folder (the AOF survives when persistence is on)."""

    def __init__(self, folder: Path, *, persistence: Persistence, replica_of: int = 0) -> None:
        self.port = free_port()
        self.folder = folder
        self.persistence = persistence
        self.replica_of = replica_of
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> "redis.Redis":
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder), "--save", ""]
        if self.persistence == "none":
            args += ["--appendonly", "no"]
        else:
            args += ["--appendonly", "yes", "--appendfsync", self.persistence]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.proc = subprocess.Popen(
            args, stdout=(self.folder / "redis.log").open("ab"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            assert self.proc.poll() is None, f"redis-server exited: see {self.folder}/redis.log"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.02)

    def wait_synced(self, timeout_s: float = 10) -> None:
        """A replica: wait until its link to the primary is up and the first sync done."""
        deadline = time.monotonic() + timeout_s
        while self.client().info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, "the replica never synced"
            time.sleep(0.02)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


# -- deploybot processes --------------------------------------------------------------------


@dataclass
class Bot:
    """``deploybot web`` and ``deploybot worker`` processes on one Redis."""

    base: Path
    config: Path
    prefix: str
    settings: dict[str, str]
    redis_url: str
    port: int = field(default_factory=free_port)
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    everything: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        inherited = inherited_env()
        return inherited | {
            "REDIS_URL": self.redis_url,
            "DEPLOYBOT_CONFIG": str(self.config),
            "DEPLOYBOT_KEY_PREFIX": self.prefix,
            "DEPLOYBOT_API_TOKEN": TOKEN,
            "DEPLOYBOT_LOG_LEVEL": "INFO",
            **self.settings,
        }

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            env=self.env(),
            cwd=self.base,
            stdout=(self.base / log_name).open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.everything.append(proc)
        return proc

    def start_web(self) -> None:
        self.web = self._spawn(["web", "--host", "127.0.0.1", "--port", str(self.port)], "web.log")

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self._spawn(["worker"], f"worker{len(self.workers) + 1}.log")
        self.workers.append(worker)
        return worker

    def kill9(self, proc: subprocess.Popen[bytes]) -> None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def restart_on(self, redis_url: str) -> None:
        """Stop every process (kill -9) and start web and one worker on another Redis."""
        for proc in self.everything:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                self.kill9(proc)
        self.redis_url = redis_url
        self.start_web()
        self.start_worker()

    def stop_all(self) -> None:
        for proc in self.everything:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.kill()
            proc.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.base.glob("worker*.log")))

    def replies(self, thread_id: str) -> list[str]:
        """Replies the workers delivered for an API thread (their LogSender's lines)."""
        marker = f"message for api thread {thread_id} "
        said = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                text = str(json.loads(line).get("message", ""))
                if text.startswith(marker):
                    said.append(text)
        return said

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )


# -- the ledger -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    key: str
    pid: int
    token: int
    target: tuple[str, str]
    start_s: float
    end_s: float | None
    how: str | None


def ledger(base: Path) -> list[Call]:
    path = base / "scripts" / "ledger.log"
    lines = path.read_text().splitlines() if path.exists() else []
    ends = {int(p[3]): (float(p[2]), p[4]) for line in lines if (p := line.split())[0] == "end"}
    calls = []
    for line in lines:
        p = line.split()
        if p[0] == "start":
            end = ends.get(int(p[3]))
            calls.append(
                Call(
                    key=p[1],
                    pid=int(p[3]),
                    token=int(p[4]),
                    target=(p[5], p[6]),
                    start_s=float(p[2]),
                    end_s=end[0] if end else None,
                    how=end[1] if end else None,
                )
            )
    return calls


def overlaps(calls: list[Call], *, dead_at: dict[int, float] | None = None) -> int:
    """Pairs of calls on the same service and environment whose runs intersect. A call with
    no end line lasts until ``dead_at[pid]`` (seen gone by the test), else for ever."""
    dead = dead_at or {}
    found = 0
    for i, a in enumerate(calls):
        for b in calls[i + 1 :]:
            if a.target != b.target:
                continue
            a_end = a.end_s if a.end_s is not None else dead.get(a.pid, float("inf"))
            b_end = b.end_s if b.end_s is not None else dead.get(b.pid, float("inf"))
            if a.start_s < b_end and b.start_s < a_end:
                found += 1
    return found


# -- one case's rig -------------------------------------------------------------------------


@dataclass
class FaultRig:
    base: Path
    redis: RedisServer
    bot: Bot

    @property
    def scripts(self) -> Path:
        return self.base / "scripts"

    def hold_deploys(self) -> None:
        (self.scripts / "gate").write_text("")

    def release_deploys(self) -> None:
        (self.scripts / "gate").unlink(missing_ok=True)

    async def launch(self, client: httpx.AsyncClient, text: str, user: str = "carol") -> str:
        got: httpx.Response | None = None

        async def answered() -> bool:  # the web process may still be starting
            nonlocal got
            try:
                got = await client.post("/v1/threads", json={"text": text, "user": user})
            except httpx.TransportError:
                return False
            return True

        await wait_until(answered, timeout_s=15, what="deploybot web answers")
        assert got is not None
        assert got.status_code == 201, got.text
        return str(got.json()["id"])

    async def thread(self, client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
        got = await client.get(f"/v1/threads/{thread_id}")
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    async def until_status(
        self, client: httpx.AsyncClient, thread_id: str, *statuses: str, timeout_s: float = 20
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            nonlocal seen
            try:
                seen = await self.thread(client, thread_id)
            except (httpx.TransportError, AssertionError):
                return False
            return seen["status"] in statuses

        await wait_until(reached, timeout_s=timeout_s, what=f"{thread_id} in {statuses}")
        return seen

    async def approve(self, client: httpx.AsyncClient, thread_id: str, user: str = "bob") -> None:
        shown = await self.until_status(client, thread_id, "awaiting_approval")
        body = {
            "type": "approval",
            "decision": "approve",
            "user": user,
            "plan_hash": shown["approval"]["plan_hash"],
        }
        got = await client.post(f"/v1/threads/{thread_id}/events", json=body)
        assert got.status_code == 202, got.text

    async def started(self, count: int = 1, timeout_s: float = 20) -> None:
        async def enough() -> bool:
            return len(ledger(self.base)) >= count

        await wait_until(enough, timeout_s=timeout_s, what=f"{count} deploy(s) started")


def messages(thread: dict[str, Any]) -> list[str]:
    return [str(e["text"]) for e in thread["events"] if e["type"] == "message_sent"]


def event_types(thread: dict[str, Any]) -> list[str]:
    return [str(e["type"]) for e in thread["events"]]


def make_rig(
    base: Path,
    prefix: str,
    *,
    persistence: Persistence = "none",
    settings: dict[str, str] | None = None,
    status_command: bool = False,
    production: str = "",
) -> FaultRig:
    """``production``: lines for [environments.production] (its checks, say). Rollbacks
    write the same ledger as deploys. The Redis starts as one that has been in use for a
    while (its intact mark an hour old): a fresh one makes deploys wait a lock lease."""
    config = write_setup(base, production=production)
    for name in ("deploy.sh", "rollback.sh"):
        (base / "scripts" / name).write_text(LEDGER_SCRIPT)
    if status_command:
        status = base / "scripts" / "status.sh"
        status.write_text(STATUS_SCRIPT)
        status.chmod(0o755)
        text = config.read_text()
        config.write_text(
            text.replace("timeout_s = ", 'status = ["./scripts/status.sh"]\ntimeout_s = ', 1)
        )
    server = RedisServer(base / "redis", persistence=persistence)
    server.start()
    mark_intact(prefix, url=server.url)
    bot = Bot(
        base=base,
        config=config,
        prefix=prefix,
        redis_url=server.url,
        settings={
            "DEPLOYBOT_LEASE_TTL_MS": "1000",
            "DEPLOYBOT_LOCK_TTL_MS": "6000",
            **(settings or {}),
        },
    )
    return FaultRig(base=base, redis=server, bot=bot)


@pytest.fixture
def rigs() -> Iterator[list[FaultRig]]:
    """Every rig a test made is stopped afterwards, processes first, by PID."""
    made: list[FaultRig] = []
    yield made
    for rig in made:
        rig.release_deploys()
        rig.bot.stop_all()
        rig.redis.stop()


@pytest.fixture
def rig_factory(tmp_path: Path, key_prefix: str, rigs: list[FaultRig]) -> Callable[..., FaultRig]:
    def make(**kwargs: Any) -> FaultRig:
        rig = make_rig(tmp_path, key_prefix, **kwargs)
        rigs.append(rig)
        return rig

    return make
