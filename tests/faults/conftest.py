"""The fault suite's rig, built from the shared one (tests/harness.py): a Redis server of the
test's own (started on a free port, stopped by PID), ``deploybot web`` and ``deploybot
worker`` as processes on it, and a deploy script that
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

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import mark_intact
from tests.harness import (
    Persistence,
    Processes,
    RedisServer,
    api_client,
    bot_env,
    executable,
    launch,
    until,
)
from tests.support import free_port, write_setup

__all__ = [
    "Bot",
    "Call",
    "FaultRig",
    "ledger",
    "overlaps",
    "running",
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


# -- deploybot processes --------------------------------------------------------------------


@dataclass
class Bot:
    """``deploybot web`` and ``deploybot worker`` processes on one Redis (the harness's
    Processes, whose environment follows ``settings`` and ``redis_url`` at each start)."""

    base: Path
    config: Path
    prefix: str
    settings: dict[str, str]
    redis_url: str
    port: int = field(default_factory=free_port)
    web: subprocess.Popen[bytes] | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.processes = Processes(self.env(), self.base)

    @property
    def everything(self) -> list[subprocess.Popen[bytes]]:
        return self.processes.procs

    def env(self) -> dict[str, str]:
        return bot_env(
            {
                "REDIS_URL": self.redis_url,
                "DEPLOYBOT_CONFIG": str(self.config),
                "DEPLOYBOT_KEY_PREFIX": self.prefix,
                "DEPLOYBOT_API_TOKEN": TOKEN,
                "DEPLOYBOT_LOG_LEVEL": "INFO",
                **self.settings,
            }
        )

    def start(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        self.processes.env = self.env()
        return self.processes.start(*args, log=log)

    def start_web(self) -> None:
        self.web = self.start("web", "--host", "127.0.0.1", "--port", str(self.port), log="web.log")

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self.start("worker", log=f"worker{len(self.workers) + 1}.log")
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
        return api_client(self.port, TOKEN, timeout_s=5)


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
        """A thread launched over the API; the web process may still be starting."""
        return await launch(client, text, user, wait_s=15)

    async def started(self, count: int = 1, timeout_s: float = 20) -> None:
        async def enough() -> bool:
            return len(ledger(self.base)) >= count

        await until(enough, f"{count} deploy(s) started", timeout_s=timeout_s)


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
        executable(base / "scripts" / "status.sh", STATUS_SCRIPT)
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
