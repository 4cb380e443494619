"""A thread Redis gave back from before its plan ran never runs that plan again (issue 16.4).

Redis is rolled back the way a crash with RDB snapshots alone rolls it back: every key of
the test's prefix is put back as it was (DUMP/RESTORE) at a moment before the approval, so
the thread waits for approval again and the plan's idempotency claim is gone. Approving
again must not run the plan a second time, counted in the deploy script's call log. What
still knows: the deploy history (written after the data was lost, e.g. by a run that was
still going), else the service's ``status`` command asked by idempotency key. When neither
can say, the plan runs (docs/operations.md says why appendonly matters).
"""

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.core.thread.events import DeployStarted
from bot.shell.deploy import prior_runs
from bot.shell.lock.holder import LockHolder
from tests.support import calls, make_app, say, texts, thread_of, write_setup

PROD = "deploy backend v1.4.2 to production"

Snapshot = list[tuple[bytes, bytes, int]]


async def snapshot(redis: Redis, prefix: str) -> Snapshot:
    """Every key of the prefix as it is now (value and expiry)."""
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    return [(k, await redis.dump(k), await redis.pttl(k)) for k in keys]  # type: ignore[misc]


async def roll_back(
    redis: Redis,
    prefix: str,
    snap: Snapshot,
    *,
    survives: Callable[[bytes], bool] = lambda k: False,
) -> None:
    """Redis as it was at ``snap``, as a restart from an older snapshot leaves it; keys
    ``survives`` names keep what they hold now (written after the data was lost)."""
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        if not survives(key):
            await redis.unlink(key)
    for key, dumped, ttl_ms in snap:
        if not survives(key):
            await redis.restore(key, max(ttl_ms, 0), dumped, replace=True)


def history_keys(key: bytes) -> bool:
    return b":history:" in key


def with_status(base: Path, *, known_exit: int) -> None:
    """A status command that answers ``known_exit`` for a key the deploy script logged and
    3 (does not know it) otherwise, logging every question."""
    script = base / "scripts" / "status.sh"
    script.write_text(
        "#!/bin/sh\n"
        'here="$(dirname "$0")"\n'
        'echo "$1" >> "$here/status.log"\n'
        f'grep -q " $1$" "$here/calls.log" 2>/dev/null && exit {known_exit}\n'
        "exit 3\n"
    )
    script.chmod(0o755)
    config = base / "deploybot.toml"
    config.write_text(
        config.read_text().replace(
            'environments = ["staging", "production"]\n',
            'environments = ["staging", "production"]\n'
            'status = ["./scripts/status.sh", "{idempotency_key}"]\n',
            1,
        )
    )


def gone(pid: int) -> bool:
    """Exited (a zombie waiting for its reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] in ("Z", "X")
    except FileNotFoundError:
        return True


def asked(base: Path) -> list[str]:
    log = base / "scripts" / "status.log"
    return log.read_text().splitlines() if log.exists() else []


async def approved_then_rolled_back(
    app: App, redis: Redis, prefix: str, *, survives: Callable[[bytes], bool] = lambda k: False
) -> None:
    """carol asks, bob approves, the deploy runs; then Redis goes back to before bob's
    approval, and alice approves the same plan again."""
    await say(app, "t1", "slack:U0CAROL", PROD, new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t1")).status == "awaiting_approval"
    snap = await snapshot(redis, prefix)
    await say(app, "t1", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert len(calls(Path(app.context.config.base_dir))) == 1
    await roll_back(redis, prefix, snap, survives=survives)
    assert (await thread_of(app, "t1")).status == "awaiting_approval"  # as if never approved
    await say(app, "t1", "slack:U0ALICE", "approve")
    await app.worker.run_until_idle()


@pytest.mark.parametrize("exit_code", [0, 1], ids=["succeeded", "failed"])
async def test_the_history_written_after_the_loss_stops_a_second_run(
    redis: Redis, key_prefix: str, tmp_path: Path, exit_code: int
) -> None:
    config = write_setup(tmp_path)
    (tmp_path / "scripts" / "exit_code").write_text(str(exit_code))
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await approved_then_rolled_back(app, redis, key_prefix, survives=history_keys)

    assert len(calls(tmp_path)) == 1
    thread = await thread_of(app, "t1")
    said = texts(thread)[-1]
    outcome = "succeeded" if exit_code == 0 else "failed"
    assert f"already ran at 2026-11-02 09:00 UTC and {outcome}" in said, said
    assert "the deploy history says so" in said
    assert "not run again" in said
    key = calls(tmp_path)[0].split()[-1]
    restored = [e for e in thread.events if isinstance(e, DeployStarted)]
    assert [e.idempotency_key for e in restored] == [key]
    assert thread.status == "awaiting_human"
    assert thread.open_approval() is None  # the approval is used up
    assert await app.context.env_lock.holder(service="backend", environment="production") is None

    # A third approver's word finds nothing to approve; nothing runs.
    await say(app, "t1", "slack:U0DAVE", "approve")
    await app.worker.run_until_idle()
    assert len(calls(tmp_path)) == 1


async def test_with_the_history_lost_too_the_status_command_is_asked(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path)
    with_status(tmp_path, known_exit=0)
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await approved_then_rolled_back(app, redis, key_prefix)

    assert len(calls(tmp_path)) == 1
    key = calls(tmp_path)[0].split()[-1]
    assert asked(tmp_path) == [key, key]  # before the first run (unknown), and again now
    thread = await thread_of(app, "t1")
    said = texts(thread)[-1]
    assert "already ran and succeeded (its service's status command says so" in said, said
    # The history lost the record with the rest; it gets it back from the status command.
    history = await app.context.history.recent(service="backend", environment="production")
    assert [(r.version, r.result, r.idempotency_key) for r in history] == [
        ("v1.4.2", "succeeded", key)
    ]

    # Asked for again, it is a new plan (made against what is live now: a new key), which
    # runs once.
    await say(app, "t1", "slack:U0CAROL", PROD)
    await app.worker.run_until_idle()
    plan = (await thread_of(app, "t1")).open_approval()
    assert plan is not None
    assert plan.plan.previous_version == "v1.4.2"
    await say(app, "t1", "slack:U0BOB", f"approve {plan.plan.short_id}")
    await app.worker.run_until_idle()
    assert len(calls(tmp_path)) == 2
    assert calls(tmp_path)[1].split()[-1] != key


async def test_a_key_the_target_saw_start_without_a_result_holds_the_environment(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """Exit 2: it started and has no result (still running, or stopped without one)."""
    config = write_setup(tmp_path)
    with_status(tmp_path, known_exit=2)
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await approved_then_rolled_back(app, redis, key_prefix)

    assert len(calls(tmp_path)) == 1
    said = texts(await thread_of(app, "t1"))[-1]
    assert "already started, and its outcome is unknown" in said, said
    assert "production stays held for backend until an approver" in said
    holder = await app.context.env_lock.holder(service="backend", environment="production")
    assert isinstance(holder, LockHolder)
    assert (holder.thread_id, holder.interrupted) == ("t1", True)


async def test_a_request_redelivered_after_the_loss_does_not_deploy_staging_twice(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """No approval needed: Redis goes back to before the worker read the request (the
    inbound stream entry unread again), so the same request is handled a second time."""
    config = write_setup(tmp_path)
    with_status(tmp_path, known_exit=0)
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t1", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    snap = await snapshot(redis, key_prefix)
    await app.worker.run_until_idle()
    assert len(calls(tmp_path)) == 1
    await roll_back(redis, key_prefix, snap)
    await app.worker.run_until_idle()

    assert len(calls(tmp_path)) == 1
    assert "already ran and succeeded" in texts(await thread_of(app, "t1"))[-1]


async def test_when_nothing_can_tell_the_plan_runs_again(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """No status command and the history lost with the thread: nothing knows the key, and
    the plan runs a second time. This is what appendonly prevents (docs/operations.md: Redis in
    production); check-config warns about every setting that allows it."""
    config = write_setup(tmp_path)
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await approved_then_rolled_back(app, redis, key_prefix)
    assert len(calls(tmp_path)) == 2
    assert len({line.split()[-1] for line in calls(tmp_path)}) == 1  # the same key, twice


async def test_a_status_command_too_slow_before_a_run_is_stopped_and_counts_as_not_knowing(
    redis: Redis, key_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a run the pair's lock is not renewed yet: the status command gets
    ASK_WITHIN_S, is stopped after that (no process left), and the plan runs as if it did
    not know the key."""
    monkeypatch.setattr(prior_runs, "ASK_WITHIN_S", 0.5)
    config = write_setup(tmp_path)
    with_status(tmp_path, known_exit=0)
    script = tmp_path / "scripts" / "status.sh"
    script.write_text(
        script.read_text().replace(
            'echo "$1" >> "$here/status.log"\n',
            'echo "$1" >> "$here/status.log"\necho $$ > "$here/status.pid"\nsleep 30\n'
            'echo waited-out >> "$here/status.log"\n',
        )
    )
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t1", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    assert len(calls(tmp_path)) == 1
    assert (await thread_of(app, "t1")).status == "done"
    assert "waited-out" not in (tmp_path / "scripts" / "status.log").read_text()  # stopped
    pid = int((tmp_path / "scripts" / "status.pid").read_text())
    for _ in range(50):
        if gone(pid):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"the status command {pid} is still running")
