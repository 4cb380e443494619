"""Helpers shared by the tests: real git repos, counting deploy scripts, a config on disk."""

import os
import socket
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

from bot.app.bootstrap import App, bootstrap
from bot.app.settings import Settings
from bot.core.ports.agent import AgentFailure, Decision
from bot.core.thread.events import UserMessage
from bot.core.thread.intents import Intent
from bot.core.thread.origin import ApiOrigin, Origin
from bot.core.thread.thread import Thread
from bot.shell.store.pool import QuickSend
from bot.shell.streams.inbound import Envelope

__all__ = ["CALLS", "add_tag", "make_repo", "write_setup"]

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}

# One line per call: "<kind> <service> <version> <environment> <idempotency key>".
# Sleeps $DEPLOY_SLEEP_S (from a file, so a test can change it while workers run), exits
# with the code in $DEPLOY_EXIT or 0.
COUNTING_SCRIPT = """#!/bin/sh
here="$(dirname "$0")"
echo $$ > "$here/pid"
printf '%s %s %s %s %s\\n' "$KIND" "$1" "$2" "$3" "$DEPLOYBOT_IDEMPOTENCY_KEY" >> "$here/calls.log"
echo "deploying $1 $2 to $3"
sleep "$(cat "$here/sleep_s" 2>/dev/null || echo 0)"
echo "$1 $2 is live"
exit "$(cat "$here/exit_code" 2>/dev/null || echo 0)"
"""

CALLS = "scripts/calls.log"


def make_repo(path: Path, tags: list[tuple[str, str]]) -> None:
    """A real git repository with one commit per (tag, subject)."""
    path.mkdir(parents=True)
    run = lambda *args: subprocess.run(  # noqa: E731
        ["git", *args], cwd=path, env=GIT_ENV, check=True, capture_output=True
    )
    run("init", "-q", "-b", "main")
    for tag, subject in tags:
        (path / "VERSION").write_text(tag)
        run("add", "VERSION")
        run("commit", "-q", "-m", subject)
        run("tag", "-a", tag, "-m", tag)


def add_tag(repo: Path, tag: str, subject: str = "", *, annotated: bool = True) -> None:
    """One more commit, tagged, in a repository of make_repo's (the subject: the tag)."""
    (repo / "VERSION").write_text(tag)
    annotation = ["-a", tag, "-m", tag] if annotated else [tag]
    for args in (["add", "VERSION"], ["commit", "-q", "-m", subject or tag], ["tag", *annotation]):
        subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True)


def write_setup(
    base: Path,
    *,
    min_approvals: int = 1,
    self_approval: bool = False,
    approval_timeout_s: float = 3600,
    timeout_s: float = 30,
    emails: dict[str, str] | None = None,
    production: str = "",
    tail: str = "",
) -> Path:
    """A config with people alice, bob, carol, dave; service backend (+ frontend); staging
    (no approval) and production (alice, bob, dave approve). Returns the config path.

    ``emails`` gives bob or carol an email address (alice's and dave's are fixed);
    ``production`` adds lines to [environments.production], ``tail`` to the end."""
    extra = emails or {}
    bob_email = f'email = "{extra["bob"]}"\n' if "bob" in extra else ""
    carol_email = f'email = "{extra["carol"]}"\n' if "carol" in extra else ""
    make_repo(
        base / "repos" / "backend",
        [
            ("v1.4.0", "add order search"),
            ("v1.4.1", "speed up order search"),
            ("v1.4.2", "fix login timeout"),
        ],
    )
    make_repo(base / "repos" / "frontend", [("v2.0.0", "new layout")])
    scripts = base / "scripts"
    scripts.mkdir()
    for name, kind in (("deploy.sh", "deploy"), ("rollback.sh", "rollback")):
        script = scripts / name
        script.write_text(COUNTING_SCRIPT.replace('"$KIND"', kind))
        script.chmod(0o755)
    config = base / "deploybot.toml"
    config.write_text(f"""
[people.alice]
slack = "U0ALICE"
email = "alice@example.com"
[people.bob]
slack = "U0BOB"
{bob_email}[people.carol]
slack = "U0CAROL"
{carol_email}[people.dave]
email = "dave@example.com"

[services.backend]
repo = "repos/backend"
deploy = ["./scripts/deploy.sh", "{{service}}", "{{version}}", "{{environment}}"]
rollback = ["./scripts/rollback.sh", "{{service}}", "{{version}}", "{{environment}}"]
timeout_s = {timeout_s}
environments = ["staging", "production"]

[services.frontend]
repo = "repos/frontend"
deploy = ["./scripts/deploy.sh", "{{service}}", "{{version}}", "{{environment}}"]
environments = ["staging", "production"]

[environments.staging]
approval = false

[environments.production]
approval = true
approvers = ["alice", "bob", "dave"]
min_approvals = {min_approvals}
self_approval = {str(self_approval).lower()}
approval_timeout_s = {approval_timeout_s}
{production}
{tail}
""")
    return config


def calls(base: Path) -> list[str]:
    log = base / CALLS
    return log.read_text().splitlines() if log.exists() else []


# -- an App on real Redis, with a scripted agent and a controllable clock -------------------


class Clock:
    def __init__(self, start: datetime = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedAgent:
    """Answers from a script; an exception in the script is raised instead."""

    def __init__(
        self, script: Sequence[Intent | AgentFailure | Exception] = (), name: str = "deploy"
    ) -> None:
        self.script = list(script)
        self.seen: list[Thread] = []
        self.name = name  # type: ignore[assignment]

    async def decide(self, thread: Thread) -> Decision | AgentFailure:
        self.seen.append(thread.model_copy(deep=True))
        if not self.script:
            raise AssertionError("the scripted agent was asked more often than scripted")
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, AgentFailure):
            return step
        return Decision(intent=step, model="scripted", input_tokens=10, output_tokens=5)


_ids = count(1)


def seq_id() -> str:
    return f"id{next(_ids):06d}"


def make_app(
    redis: Redis,
    *,
    prefix: str,
    config_file: Path,
    agent: ScriptedAgent | None = None,
    clock: Callable[[], datetime] | None = None,
    consumer: str = "w1",
    lease_ttl_ms: int = 2_000,
    lock_wait_s: float = 30,
    lock_ttl_ms: int = 30_000,
    verify_interval_s: float = 0.1,
) -> App:
    settings = Settings(
        deploybot_key_prefix=prefix,
        deploybot_lease_ttl_ms=lease_ttl_ms,
        deploybot_lock_ttl_ms=lock_ttl_ms,
        deploybot_tags_cache_s=0,
        deploybot_verify_interval_s=verify_interval_s,
        anthropic_api_key=None,
        redis_url=None,
    )
    agent = agent or ScriptedAgent()
    return bootstrap(
        settings,
        config_file=config_file,
        redis=redis,
        consumer=consumer,
        agents={"deploy": agent, "rollback": agent},
        clock=clock or Clock(),
        ids=seq_id,
        lock_wait_s=lock_wait_s,
    )


async def say(
    app: App,
    thread_id: str,
    actor: str,
    text: str,
    *,
    new: bool = False,
    event_id: str | None = None,
    origin: Origin | None = None,
) -> str:
    """Publish a user message (a new thread when ``new``); returns the event id."""
    event = UserMessage(id=event_id or seq_id(), at=datetime.now(UTC), actor=actor, text=text)
    await app.context.queue.publish(
        Envelope(
            thread_id=thread_id,
            event=event,
            origin=(origin or ApiOrigin()) if new else None,
        )
    )
    return event.id


async def thread_of(app: App, thread_id: str) -> Thread:
    thread = await app.context.store.load(thread_id)
    assert thread is not None, f"thread {thread_id} was never saved"
    return thread


def texts(thread: Thread) -> list[str]:
    return [e.text for e in thread.events if e.type == "message_sent"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], *, timeout_s: float = 10) -> None:
    """SIGTERM every process, then wait; SIGKILL those that do not stop in time."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def count_round_trips(
    monkeypatch: pytest.MonkeyPatch, *, into: Callable[[], list[int] | None] | None = None
) -> list[int]:
    """Round trips this process sends to Redis from now on: one per write (a command, a
    pipeline, a script call), on redis-py's connections and the bot's ``QuickSend`` ones
    alike (a quick write that goes redis-py's way is counted once). ``into`` says where each
    is counted (None: this one is not); by default, in the list returned."""
    counter = [0]
    where = into or (lambda: counter)
    send = AbstractConnection.send_packed_command
    quick_send = QuickSend.send_packed_command

    def count() -> None:
        if (found := where()) is not None:
            found[0] += 1

    async def counted_send(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        if not isinstance(self, QuickSend):  # counted there, even when it falls back here
            count()
        await send(self, *args, **kwargs)

    async def counted_quick_send(self: QuickSend, *args: Any, **kwargs: Any) -> None:
        count()
        await quick_send(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted_send)
    monkeypatch.setattr(QuickSend, "send_packed_command", counted_quick_send)
    return counter
