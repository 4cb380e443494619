"""A worker killed mid-deploy: the next worker reports "outcome unknown", never re-runs."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import utc_now
from bot.core.thread.events import DeployFinished, DeployInterrupted
from tests.conftest import TEST_REDIS_URL
from tests.support import calls, make_app, say, texts, thread_of, write_setup


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def start_worker(
    config: Path, prefix: str, log: Path, *, lock_ttl_ms: int = 30_000
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REDIS_URL": TEST_REDIS_URL,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": prefix,
        "DEPLOYBOT_LEASE_TTL_MS": "1000",
        "DEPLOYBOT_LOCK_TTL_MS": str(lock_ttl_ms),
        "DEPLOYBOT_LOG_LEVEL": "INFO",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_for(predicate, timeout_s: float = 20) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await predicate():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def test_sigkill_after_deploy_started_is_reported_not_rerun(
    redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    config = write_setup(tmp_path)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=utc_now)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to production", new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t1")).status == "awaiting_approval"

    (tmp_path / "scripts" / "sleep_s").write_text("30")
    first = start_worker(config, key_prefix, tmp_path / "worker1.log")
    workers.append(first)
    await say(app, "t1", "slack:U0BOB", "approve")

    async def script_running() -> bool:
        return len(calls(tmp_path)) == 1

    await wait_for(script_running)
    os.killpg(first.pid, signal.SIGKILL)  # the worker, right after deploy_started
    # Its script is not killed here: it dies with the worker (see the test below).
    first.wait(timeout=10)

    second = start_worker(config, key_prefix, tmp_path / "worker2.log")
    workers.append(second)

    async def reported() -> bool:
        thread = await thread_of(app, "t1")
        return any(isinstance(e, DeployInterrupted) for e in thread.events)

    await wait_for(reported)
    thread = await thread_of(app, "t1")
    assert thread.status == "awaiting_human"
    assert texts(thread)[-1].startswith("Outcome unknown: the deploy (backend v1.4.2")
    assert len(calls(tmp_path)) == 1

    # Approving again changes nothing: the plan already started once.
    await say(app, "t1", "slack:U0ALICE", "approve")

    async def answered() -> bool:
        return texts(await thread_of(app, "t1"))[-1].startswith("Nothing in this thread")

    await wait_for(answered)
    assert len(calls(tmp_path)) == 1
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=10) == 0


def running(pid: int) -> bool:
    """Running: a zombie (State Z, waiting for its reaper) counts as gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return state.split()[1] not in ("Z", "X")


async def test_sigkill_of_the_worker_stops_the_deploy_and_its_setsid_grandchild(
    redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    config = write_setup(tmp_path)
    deploy = tmp_path / "scripts" / "deploy.sh"
    deploy.write_text(
        deploy.read_text().replace(
            'echo $$ > "$here/pid"\n',
            'echo $$ > "$here/pid"\n'
            'setsid sh -c \'echo $$ > "$1/grandchild.pid"; exec sleep 60\' sh "$here" &\n',
        )
    )
    (tmp_path / "scripts" / "sleep_s").write_text("60")
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=utc_now)
    worker = start_worker(config, key_prefix, tmp_path / "worker.log")
    workers.append(worker)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to staging", new=True)

    async def both_running() -> bool:
        files = [tmp_path / "scripts" / name for name in ("pid", "grandchild.pid")]
        return all(f.exists() and f.read_text().strip() for f in files)

    await wait_for(both_running)
    command = int((tmp_path / "scripts" / "pid").read_text())
    grandchild = int((tmp_path / "scripts" / "grandchild.pid").read_text())
    assert running(command)
    assert running(grandchild)

    os.kill(worker.pid, signal.SIGKILL)  # the worker only: not its group, not the script
    killed = asyncio.get_running_loop().time()
    worker.wait(timeout=10)

    async def both_gone() -> bool:
        return not running(command) and not running(grandchild)

    await wait_for(both_gone, timeout_s=5)
    took_s = asyncio.get_running_loop().time() - killed
    print(f"deploy command and setsid grandchild gone {took_s:.2f} s after kill -9 of the worker")
    assert len(calls(tmp_path)) == 1


# -- what the next worker does with a deploy whose worker died (issue 10.1, 10.5) ----------


async def crash_mid_deploy(
    app_redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    """carol's production deploy, approved by bob, runs in a worker process killed with -9."""
    config = tmp_path / "deploybot.toml"
    app = make_app(app_redis, prefix=key_prefix, config_file=config, clock=utc_now)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to production", new=True)
    await app.worker.run_until_idle()
    (tmp_path / "scripts" / "sleep_s").write_text("30")
    first = start_worker(config, key_prefix, tmp_path / "worker1.log")
    workers.append(first)
    plan = (await thread_of(app, "t1")).open_approval()
    assert plan is not None
    await say(app, "t1", "slack:U0BOB", f"approve {plan.plan.short_id}")

    async def script_running() -> bool:
        return len(calls(tmp_path)) == 1

    await wait_for(script_running)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    (tmp_path / "scripts" / "sleep_s").write_text("0")


async def test_an_interrupted_deploy_holds_its_environment_until_an_approver_looks(
    redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    write_setup(tmp_path)
    await crash_mid_deploy(redis, key_prefix, tmp_path, workers)
    app = make_app(redis, prefix=key_prefix, config_file=tmp_path / "deploybot.toml")
    # The next worker takes the thread over once the dead one's lease runs out.
    await asyncio.sleep(1.2)
    for _ in range(50):
        await app.worker.run_until_idle()
        if any(isinstance(e, DeployInterrupted) for e in (await thread_of(app, "t1")).events):
            break
        await asyncio.sleep(0.2)
    thread = await thread_of(app, "t1")
    assert texts(thread)[-1].startswith("Outcome unknown: the deploy (backend v1.4.2")
    assert "production stays held for backend until an approver" in texts(thread)[-1]
    history = await app.context.history.recent(service="backend", environment="production", limit=5)
    assert [(r.version, r.result) for r in history] == [("v1.4.2", "interrupted")]

    await say(app, "w", "slack:U0CAROL", "where can I deploy backend", new=True)
    await app.worker.run_until_idle()
    where = texts(await thread_of(app, "w"))[-1]
    assert (
        "production: never deployed, needs approval, held: interrupted deploy of backend v1.4.2"
        in where
    )

    # A new deploy (another thread, even approved) does not start while it is held: it
    # waits in the pair's line at once (issue 19.3), without holding a worker.
    await say(app, "t2", "slack:U0CAROL", "deploy backend v1.4.1 to production", new=True)
    await app.worker.run_until_idle()
    second = (await thread_of(app, "t2")).open_approval()
    assert second is not None
    await say(app, "t2", "slack:U0ALICE", f"approve {second.plan.short_id}")
    await app.worker.run_until_idle()
    waiting = await thread_of(app, "t2")
    assert waiting.status == "queued"
    assert "1st in line, behind interrupted deploy of backend v1.4.2" in texts(waiting)[-1]
    assert len(calls(tmp_path)) == 1

    # Only an approver may release it; then deploys go again.
    await say(app, "u", "slack:U0CAROL", "unlock production", new=True)
    await app.worker.run_until_idle()
    assert texts(await thread_of(app, "u"))[-1].startswith("Only an approver of production")
    await say(app, "u", "slack:U0ALICE", "unlock production")
    await app.worker.run_until_idle()
    assert "production is released for backend" in texts(await thread_of(app, "u"))[-1]
    # Released: the plan waiting in line runs, re-checked under the lock.
    assert (await thread_of(app, "t2")).status == "done"
    assert [line.split()[2] for line in calls(tmp_path)] == ["v1.4.2", "v1.4.1"]
    await say(app, "t3", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    third = (await thread_of(app, "t3")).open_approval()
    assert third is not None
    await say(app, "t3", "slack:U0ALICE", f"approve {third.plan.short_id}")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t3")).status == "done"
    assert len(calls(tmp_path)) == 3


async def test_the_status_command_resolves_an_outcome_the_worker_did_not_see(
    redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    """With a `status` command the next worker asks the target by idempotency key and
    records the real result instead of "outcome unknown"."""
    config = write_setup(tmp_path)
    status = tmp_path / "scripts" / "status.sh"
    status.write_text(
        "#!/bin/sh\n"
        'here="$(dirname "$0")"\n'
        'echo "status asked for $1" >> "$here/status.log"\n'
        'grep -q " $1$" "$here/calls.log" && { echo "deployed: $1"; exit 0; }\n'
        "exit 3\n"
    )
    status.chmod(0o755)
    config.write_text(
        config.read_text().replace(
            'timeout_s = 30\nenvironments = ["staging", "production"]\n',
            'timeout_s = 30\nenvironments = ["staging", "production"]\n'
            'status = ["./scripts/status.sh", "{idempotency_key}"]\n',
            1,
        )
    )
    await crash_mid_deploy(redis, key_prefix, tmp_path, workers)
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await asyncio.sleep(1.2)
    for _ in range(50):
        await app.worker.run_until_idle()
        if (await thread_of(app, "t1")).status != "running":
            break
        await asyncio.sleep(0.2)
    thread = await thread_of(app, "t1")
    key = calls(tmp_path)[0].split()[-1]
    # Asked before the plan ran (it did not know the key: the plan ran), then after the crash.
    assert (tmp_path / "scripts" / "status.log").read_text() == f"status asked for {key}\n" * 2
    assert thread.status == "done"
    finished = [e for e in thread.events if isinstance(e, DeployFinished)]
    assert len(finished) == 1
    assert "status command says it succeeded" in finished[0].output_tail
    assert texts(thread)[-1].startswith("Deploying backend v1.4.2 to production ... ok")
    history = await app.context.history.recent(service="backend", environment="production", limit=5)
    assert [(r.version, r.result) for r in history] == [("v1.4.2", "succeeded")]
    assert await app.context.env_lock.holder(service="backend", environment="production") is None
    assert len(calls(tmp_path)) == 1


async def test_a_stopped_worker_cannot_let_its_deploy_outlive_the_lock(
    redis: Redis, key_prefix: str, tmp_path: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    """SIGSTOP of the worker mid-deploy: nothing renews the lock any more, so the supervisor's
    dead-man's switch stops the command (and its setsid grandchild) before the lock's lease
    runs out, and another deploy of the pair can never overlap it."""
    config = write_setup(tmp_path)
    deploy = tmp_path / "scripts" / "deploy.sh"
    deploy.write_text(
        deploy.read_text().replace(
            'echo $$ > "$here/pid"\n',
            'echo $$ > "$here/pid"\n'
            'setsid sh -c \'echo $$ > "$1/grandchild.pid"; exec sleep 60\' sh "$here" &\n',
        )
    )
    (tmp_path / "scripts" / "sleep_s").write_text("60")
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=utc_now)
    worker = start_worker(config, key_prefix, tmp_path / "worker.log", lock_ttl_ms=4000)
    workers.append(worker)
    await say(app, "t1", "slack:U0CAROL", "deploy backend to staging", new=True)

    async def both_running() -> bool:
        files = [tmp_path / "scripts" / name for name in ("pid", "grandchild.pid")]
        return all(f.exists() and f.read_text().strip() for f in files)

    await wait_for(both_running)
    command = int((tmp_path / "scripts" / "pid").read_text())
    grandchild = int((tmp_path / "scripts" / "grandchild.pid").read_text())
    worker.send_signal(signal.SIGSTOP)
    stopped = asyncio.get_running_loop().time()
    try:

        async def both_gone() -> bool:
            return not running(command) and not running(grandchild)

        await wait_for(both_gone, timeout_s=4)
        took_s = asyncio.get_running_loop().time() - stopped
        lock = await app.context.env_lock.holder(service="backend", environment="staging")
        print(f"command stopped {took_s:.2f} s after SIGSTOP; lock lease 4 s")
        assert took_s < 4
        assert lock is not None  # still held by the stopped worker: nobody else got in
    finally:
        worker.send_signal(signal.SIGCONT)

    async def finished() -> bool:
        return (await thread_of(app, "t1")).status in ("failed", "done")

    await wait_for(finished)
    thread = await thread_of(app, "t1")
    assert thread.status == "failed"
    assert len(calls(tmp_path)) == 1
