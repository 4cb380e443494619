"""The rig of the whole-process tests (tests/e2e, tests/faults), written once.

- **Environment**: ``bot_env`` is this process's environment without any variable of the
  settings contract (a bot started by a test gets only what the test gives it), keeping the
  run's root opt-in (tests/conftest.py ``AS_ROOT``) unless told not to.
- **Processes**: ``deploybot(...)`` runs a command to its end; ``Processes`` starts
  ``deploybot web``/``worker``/``clock``/``mail``/``run`` as subprocesses, each logging to a
  file of its own (or to the test's output), and stops every one it started by PID.
- **Waiting**: ``until`` polls a check (plain or async) and fails with the processes' logs;
  ``healthy`` waits for ``/healthz``; ``launch``/``until_status``/``approve`` drive the HTTP
  API as the contract describes it.
- **Redis**: ``RedisServer`` is a redis-server of the test's own (a free port, a folder, a
  persistence mode, a replica of another, a password), killed, crashed and started again
  on the same port and folder.
- **Config**: tests/support.py ``write_setup`` writes the config, the repositories and the
  counting deploy scripts (read back with ``calls``); here are the pieces tests add to it:
  a schedule, a webhook, backend deployed through a GitHub workflow, an executable script.
"""

import asyncio
import contextlib
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import redis

from bot.shell.store.keys import Keys
from tests.conftest import AS_ROOT
from tests.support import free_port, stop_processes

__all__ = [
    "CONTRACT_PREFIXES",
    "GITHUB_WORKFLOW",
    "Persistence",
    "Processes",
    "RedisServer",
    "api_client",
    "approve",
    "bot_env",
    "chat",
    "deploybot",
    "executable",
    "healthy",
    "launch",
    "once_at",
    "read_thread",
    "schedule_toml",
    "until",
    "until_status",
    "use_github_workflow",
    "webhook_toml",
]

Proc = subprocess.Popen[bytes]

# The settings contract's variables: a test sets the ones it means and inherits none.
CONTRACT_PREFIXES = (
    "DEPLOYBOT_",
    "REDIS_",
    "ANTHROPIC_",
    "SLACK_",
    "SMTP_",
    "IMAP_",
    "EMAIL_",
    "GITHUB_",
    "PORT",
)


def bot_env(values: dict[str, str] | None = None, *, root_opt_in: bool = True) -> dict[str, str]:
    """This process's environment without the contract's variables, plus ``values``."""
    kept = {
        k: v
        for k, v in os.environ.items()
        if (k == AS_ROOT and root_opt_in) or not k.startswith(CONTRACT_PREFIXES)
    }
    return kept | (values or {})


def deploybot(
    *args: str,
    env: dict[str, str],
    cwd: Path | None = None,
    stdin: str = "",
    timeout_s: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``deploybot ARGS`` run to its end, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout_s,
        check=False,
    )


def chat(
    lines: Sequence[str], *, home: Path, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``deploybot chat ARGS`` fed ``lines`` on standard input (not a terminal: each line is
    handled to its end), in ``home`` (``DEPLOYBOT_HOME``); it must exit 0. Bytes out, so
    a test can look at exactly what a terminal would get."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "chat", *args],
        input="\n".join(lines).encode() + b"\n",
        capture_output=True,
        env=bot_env({"DEPLOYBOT_HOME": str(home), **(env or {})}),
        cwd=home,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done


def executable(path: Path, text: str) -> Path:
    """A script at ``path`` that its owner and others may run."""
    path.write_text(text)
    path.chmod(0o755)
    return path


# -- processes ------------------------------------------------------------------------------


class Processes:
    """``deploybot <command>`` processes started in ``cwd``; ``stop`` ends each one it
    started (SIGTERM, then SIGKILL), by PID. ``env`` may change between starts; ``argv``
    is how ``deploybot`` is run (by default this interpreter's ``-m bot``)."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        *,
        logs: bool = True,
        argv: Sequence[str] = (sys.executable, "-m", "bot"),
    ) -> None:
        self.env = env
        self.cwd = cwd
        self.to_files = logs
        self.argv = list(argv)
        self.procs: list[Proc] = []

    def start(self, *args: str, log: str | None = None) -> Proc:
        """Start ``deploybot ARGS``; its output goes to ``log`` (a file in ``cwd``; by
        default ``<command>-<n>.log``), or to the test's own output without ``logs``."""
        out: Any = None
        if self.to_files:
            out = (self.cwd / (log or f"{args[0]}-{len(self.procs)}.log")).open("ab")
        proc = subprocess.Popen(
            [*self.argv, *args],
            env=self.env,
            cwd=self.cwd,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
        )
        if out is not None:
            out.close()
        self.procs.append(proc)
        return proc

    def web(self, port: int, *, command: str = "web") -> Proc:
        return self.start(command, "--host", "127.0.0.1", "--port", str(port))

    def exited(self) -> list[Proc]:
        return [p for p in self.procs if p.poll() is not None]

    def logs(self, *, last: int = 15) -> str:
        """The last lines of every log file in ``cwd``, for a failure's message."""
        return "\n".join(
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-last:])
            for p in sorted(self.cwd.glob("*.log"))
        )

    def stop(self) -> None:
        stop_processes(self.procs)

    def __enter__(self) -> "Processes":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


async def until(
    check: Callable[[], bool | Awaitable[bool]],
    what: str = "condition",
    *,
    timeout_s: float = 20,
    alive: Sequence[Proc] = (),
    procs: Processes | None = None,
) -> float:
    """Poll ``check`` every 20 ms until it holds; returns the seconds it took. Fails after
    ``timeout_s``, or at once when one of the ``alive`` processes has exited; the failure
    shows the last lines of ``procs``' logs."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while True:
        for proc in alive:
            assert proc.poll() is None, f"{proc.args!r} exited with {proc.returncode}"
        got = check()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return loop.time() - began
        if loop.time() - began >= timeout_s:
            logs = procs.logs() if procs is not None else ""
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}\n{logs}")
        await asyncio.sleep(0.02)


async def healthy(port: int, *, alive: Sequence[Proc], timeout_s: float = 20) -> None:
    """``/healthz`` answers 200, while every ``alive`` process runs."""

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                got = await client.get(f"http://127.0.0.1:{port}/healthz")
        except httpx.TransportError:
            return False
        return got.status_code == 200

    await until(up, f"/healthz on port {port}", timeout_s=timeout_s, alive=alive)


# -- the HTTP API ---------------------------------------------------------------------------


def api_client(port: int, token: str, *, timeout_s: float = 10) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout_s,
    )


async def launch(
    client: httpx.AsyncClient, text: str, user: str = "carol", *, wait_s: float = 0
) -> str:
    """``POST /v1/threads``; 201 or fail; returns the thread's id. With ``wait_s``, a web
    process still starting (no connection yet) is waited for that long."""
    got: httpx.Response | None = None

    async def answered() -> bool:
        nonlocal got
        try:
            got = await client.post("/v1/threads", json={"text": text, "user": user})
        except httpx.TransportError:
            if not wait_s:
                raise
            return False
        return True

    await until(answered, "deploybot web answers", timeout_s=wait_s)
    assert got is not None
    assert got.status_code == 201, (got.status_code, got.text)
    return str(got.json()["id"])


async def read_thread(client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    """``GET /v1/threads/{id}``: 200 or fail."""
    got = await client.get(f"/v1/threads/{thread_id}")
    assert got.status_code == 200, (got.status_code, got.text)
    body: dict[str, Any] = got.json()
    return body


async def until_status(
    client: httpx.AsyncClient, thread_id: str, *statuses: str, timeout_s: float = 20
) -> dict[str, Any]:
    """The thread once its status is one of ``statuses`` (a web process that does not
    answer meanwhile, or answers other than 200, is asked again)."""
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        nonlocal seen
        try:
            seen = await read_thread(client, thread_id)
        except (httpx.TransportError, AssertionError):
            return False
        return seen["status"] in statuses

    try:
        await until(reached, f"{thread_id} in {statuses}", timeout_s=timeout_s)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nlast seen: {seen.get('status')}") from None
    return seen


async def approve(
    client: httpx.AsyncClient, thread_id: str, user: str = "bob", *, timeout_s: float = 20
) -> None:
    """``user`` approves the plan the thread shows once it awaits approval: 202 or fail."""
    shown = await until_status(client, thread_id, "awaiting_approval", timeout_s=timeout_s)
    body = {
        "type": "approval",
        "decision": "approve",
        "user": user,
        "plan_hash": shown["approval"]["plan_hash"],
    }
    got = await client.post(f"/v1/threads/{thread_id}/events", json=body)
    assert got.status_code == 202, got.text


# -- Redis ----------------------------------------------------------------------------------

Persistence = Literal["none", "rdb", "everysec", "always"]


class RedisServer:
    """A redis-server of the test's own on a free port, keeping its files in ``folder``:
    ``none`` keeps nothing, ``rdb`` snapshots alone (``save "1 1"``, Debian's way),
    ``everysec``/``always`` an AOF. ``start`` again after ``kill9``/``crash`` uses the same
    port and folder (so what was kept is loaded)."""

    def __init__(
        self,
        folder: Path,
        *,
        persistence: Persistence = "none",
        replica_of: int = 0,
        password: str = "",
        args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.folder = folder
        self.persistence = persistence
        self.replica_of = replica_of
        self.password = password
        self.args = list(args)
        self.proc: Proc | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def client(self) -> "redis.Redis":
        return redis.Redis(port=self.port, password=self.password or None, socket_timeout=2)

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.folder)]
        args += {
            "none": ["--save", "", "--appendonly", "no"],
            "rdb": ["--save", "1 1", "--appendonly", "no"],
            "everysec": ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"],
            "always": ["--save", "", "--appendonly", "yes", "--appendfsync", "always"],
        }[self.persistence]
        if self.password:
            args += ["--requirepass", self.password]
        if self.replica_of:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        self.proc = subprocess.Popen(
            [*args, *self.args],
            stdout=(self.folder / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while not self.answers():
            assert self.proc.poll() is None, f"redis-server exited: see {self.folder}/redis.log"
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.02)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

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

    def crash(self) -> None:
        """Stop it as a crash would: no final save (SHUTDOWN NOSAVE), waited for."""
        assert self.proc is not None
        self.client().shutdown(nosave=True)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @contextlib.contextmanager
    def running(self) -> Iterator["RedisServer"]:
        """Started here, stopped (kill -9, by PID) when the block ends."""
        self.start()
        try:
            yield self
        finally:
            self.stop()


# -- pieces of config -----------------------------------------------------------------------

GITHUB_WORKFLOW = "acme/backend/.github/workflows/deploy.yml"
_BACKEND_ARGV = 'deploy = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]\n'


def use_github_workflow(config: Path) -> Path:
    """write_setup's config with backend deployed by ``GITHUB_WORKFLOW`` (ref main, inputs
    version and environment) instead of its script; frontend keeps its script."""
    table = (
        "[services.backend.deploy]\n"
        f'github_workflow = "{GITHUB_WORKFLOW}"\n'
        'ref = "main"\n'
        'inputs = { version = "{version}", environment = "{environment}" }\n\n'
    )
    text = config.read_text()
    assert text.count(_BACKEND_ARGV) == 2  # backend's, then frontend's
    text = text.replace(_BACKEND_ARGV, "", 1)
    config.write_text(text.replace("[services.frontend]", table + "[services.frontend]"))
    return config


async def clock_ran_before(redis: Any, *, prefix: str, schedule: str, at: datetime) -> None:
    """Mark ``schedule`` as handled by a clock up to ``at``, as in an installation whose
    clock has run before: a clock process that starts only after the schedule's next time
    (a slow start on a busy machine) then finds that time missed and applies the schedule's
    ``missed`` policy, instead of starting from its own first tick with nothing to replay."""
    await redis.set(Keys(prefix).cron_last(schedule), at.isoformat())


def once_at(at: datetime) -> str:
    """A cron line due at ``at`` once a day (croniter's sixth field is the second)."""
    return f"{at.minute} {at.hour} * * * {at.second}"


def schedule_toml(
    name: str,
    cron: str,
    instruction: str,
    *,
    missed: str = "",
    report_to: str = "",
    timezone: str = "",
) -> str:
    """One ``[[schedules]]`` table, for write_setup's ``tail``."""
    lines = ["", "[[schedules]]", f'name = "{name}"', f'cron = "{cron}"']
    lines += [f'timezone = "{timezone}"'] if timezone else []
    lines += [f'instruction = "{instruction}"']
    lines += [f'report_to = "{report_to}"'] if report_to else []
    lines += [f'missed = "{missed}"'] if missed else []
    return "\n".join(lines) + "\n"


def webhook_toml(name: str, instruction: str, *, report_to: str = "") -> str:
    """One ``[webhooks.<name>]`` table, for write_setup's ``tail``."""
    said = f'report_to = "{report_to}"\n' if report_to else ""
    return f'\n[webhooks.{name}]\ninstruction = "{instruction}"\n{said}'
