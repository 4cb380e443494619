"""kill -9 of the worker at each step of an approved deploy (fault suite, case 1).

Real ``deploybot web`` and ``deploybot worker`` processes on a Redis of the test's own; the
deploy script writes start/end ledger lines, so deploys and overlaps are counted. Pass:
exactly one deploy, or none and the thread says why; no overlap; every reply delivered once.
"""

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest
import redis

from bot.core.thread.events import DeployFinished
from bot.shell.store.codec import decode_thread
from tests.faults.conftest import (
    FaultRig,
    event_types,
    ledger,
    messages,
    overlaps,
    running,
    stopped,
)
from tests.harness import approve, read_thread, until, until_status

pytestmark = pytest.mark.faults

PROD = "deploy backend v1.4.2 to production"


async def assert_replies_once(rig: FaultRig, thread: dict[str, Any]) -> None:
    """Every message the thread recorded is delivered (logged by a worker's API sender)
    exactly once, across every worker that ever ran. Waits for the outbox first."""
    wanted = [
        (event["purpose"], event["text"].splitlines()[0])
        for event in thread["events"]
        if event["type"] == "message_sent" and event["purpose"] != "progress"
    ]  # progress edits are transient by design (repeating one is harmless)

    def sent(purpose: str, first: str) -> int:
        return sum(1 for line in rig.bot.replies(thread["id"]) if f"({purpose}): {first}" in line)

    async def all_out() -> bool:
        return all(sent(*w) >= 1 for w in wanted)

    await until(all_out, timeout_s=15, what="every reply delivered")
    await asyncio.sleep(0.3)  # a duplicate would follow within the same outbox pass
    for purpose, first in wanted:
        assert sent(purpose, first) == 1, f"{purpose} reply {first!r} not delivered once"


def saved_result(stored: bytes | None) -> bool:
    if not stored:
        return False
    version, _, blob = stored.partition(b"|")
    thread = decode_thread(blob, version=int(version))
    return any(isinstance(e, DeployFinished) for e in thread.events)


async def awaiting(rig: FaultRig, client: httpx.AsyncClient) -> str:
    tid = await rig.launch(client, PROD)
    await until_status(client, tid, "awaiting_approval")
    return tid


async def test_kill_before_the_approval_is_recorded(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """The approval is in the inbound stream, read by a worker that is then stopped and
    killed before it saved anything; the next worker takes the entry over and deploys once."""
    rig = rig_factory()
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        os.kill(first.pid, signal.SIGSTOP)  # it cannot read (and ack) what comes next
        await approve(client, tid)
        rig.bot.kill9(first)
        killed = time.monotonic()
        rig.bot.start_worker()
        done = await until_status(client, tid, "done")
        recovered_s = time.monotonic() - killed
    calls = ledger(rig.base)
    assert len(calls) == 1
    assert calls[0].how == "ok"
    assert event_types(done).count("approval_decided") == 1
    await assert_replies_once(rig, done)
    print(f"before approval: 1 deploy, done {recovered_s:.1f} s after kill -9")


async def test_kill_after_the_approval_before_deploy_started(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """Another holder has the environment's lock, so the approved plan waits in the pair's
    line (issue 19.3: saved, holding no worker, no deploy_started) when its worker is killed.
    Once the lock is free the next worker gives it its turn and deploys once."""
    rig = rig_factory()
    lock_key = f"{rig.bot.prefix}:{{env:backend:production}}:lock"
    rig.redis.client().set(
        lock_key,
        '{"thread_id":"other","who":"dave","why":"deploy backend v1.4.1",'
        '"since":"2026-11-02T09:00:00Z","fencing_token":99,"interrupted":false}',
        px=60_000,
    )
    rig.redis.client().set(f"{rig.bot.prefix}:{{env:backend:production}}:fence", 99)
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        await approve(client, tid)
        admin = rig.redis.client()
        now = await until_status(client, tid, "queued")  # in line, durably: no worker held
        assert "approval_decided" in event_types(now)
        assert "deploy_started" not in event_types(now)
        rig.bot.kill9(first)
        killed = time.monotonic()
        admin.delete(lock_key)  # the other deploy is over
        rig.bot.start_worker()
        done = await until_status(client, tid, "done")
        recovered_s = time.monotonic() - killed
    calls = ledger(rig.base)
    assert len(calls) == 1
    assert calls[0].how == "ok"
    assert calls[0].token > 99  # fenced after the other holder's 99
    await assert_replies_once(rig, done)
    print(f"after approval, before deploy_started: 1 deploy, done {recovered_s:.1f} s after")


async def test_kill_during_the_deploy(rig_factory: Callable[..., FaultRig]) -> None:
    """The command dies with its worker; the next worker cannot know the outcome (no status
    command): the thread says so, the environment stays held, nothing runs twice, and only
    an approver's 'unlock production' frees it."""
    rig = rig_factory()
    rig.hold_deploys()
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        await approve(client, tid)
        await rig.started(1)
        pid = ledger(rig.base)[0].pid
        rig.bot.kill9(first)
        killed = time.monotonic()

        async def script_gone() -> bool:
            return not running(pid)

        await until(script_gone, timeout_s=5, what="the deploy command dies with its worker")
        dead_at = {pid: time.time()}
        rig.bot.start_worker()
        held = await until_status(client, tid, "awaiting_human")
        recovered_s = time.monotonic() - killed
        assert "deploy_interrupted" in event_types(held)
        assert any("Outcome unknown" in text for text in messages(held))

        # Another deploy of backend to production does not start while it is held: it
        # waits in the pair's line (issue 19.3) behind the interrupted deploy.
        second = await rig.launch(client, PROD, user="carol")
        await approve(client, second, user="alice")
        waiting = await until_status(client, second, "queued")
        assert any("1st in line" in text for text in messages(waiting)), messages(waiting)
        await asyncio.sleep(1.5)  # the pump's rounds: still held, nothing runs
        assert (await read_thread(client, second))["status"] == "queued"
        rig.release_deploys()
    calls = ledger(rig.base)
    assert len(calls) == 1
    # Stopped with its worker, never finished: the supervisor sends SIGTERM first (the
    # script's trap may write a "term" line in the moment before SIGKILL), never "ok".
    assert calls[0].how in (None, "term")
    assert overlaps(calls, dead_at=dead_at) == 0
    await assert_replies_once(rig, held)
    print(f"during the deploy: 1 deploy (killed), interrupted reported {recovered_s:.1f} s after")


@pytest.mark.parametrize("with_status", [True, False], ids=["status-command", "no-status"])
async def test_kill_after_the_command_exited_before_the_result_is_saved(
    rig_factory: Callable[..., FaultRig], with_status: bool
) -> None:
    """The script writes its end line and SIGSTOPs its worker before exiting, so the worker
    is frozen before it can read the exit status; then it is killed. With a status command
    the next worker asks it by idempotency key and records the real result; without one it
    says the outcome is unknown. Never a second run."""
    rig = rig_factory(status_command=with_status)
    (rig.scripts / "stop_worker_at_exit").write_text("")
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        await approve(client, tid)

        async def frozen() -> bool:
            return stopped(first.pid)

        await until(frozen, what="the worker stopped by its script at exit")
        (rig.scripts / "stop_worker_at_exit").unlink()
        assert ledger(rig.base)[0].how == "ok"
        rig.bot.kill9(first)
        killed = time.monotonic()
        rig.bot.start_worker()
        final = await until_status(client, tid, "done", "awaiting_human")
        recovered_s = time.monotonic() - killed
    assert len(ledger(rig.base)) == 1
    if with_status:
        assert final["status"] == "done"
        finished = [e for e in final["events"] if e["type"] == "deploy_finished"]
        assert [e["result"] for e in finished] == ["succeeded"]
    else:
        assert final["status"] == "awaiting_human"
        assert "deploy_interrupted" in event_types(final)
    await assert_replies_once(rig, final)
    print(f"after exit, status={with_status}: 1 deploy, {final['status']} in {recovered_s:.1f} s")


async def test_kill_after_the_save_before_the_reply_is_delivered(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """The worker is stopped the moment the thread's saved version holds the result (read
    straight from Redis in a tight loop), then killed; the next worker delivers what was not
    delivered, once. Where exactly the stop lands in the save -> outbox -> delivery window is
    printed; the pass criterion holds on either side."""
    rig = rig_factory()
    rig.hold_deploys()
    rig.bot.start_web()
    first = rig.bot.start_worker()
    admin: redis.Redis = rig.redis.client()
    async with rig.bot.client() as client:
        tid = await awaiting(rig, client)
        await approve(client, tid)
        await rig.started(1)
        key = f"{rig.bot.prefix}:{{{tid}}}:thread"
        rig.release_deploys()
        deadline = time.monotonic() + 10
        while not saved_result(cast(bytes | None, admin.get(key))):
            assert time.monotonic() < deadline, "the result was never saved"
        os.kill(first.pid, signal.SIGSTOP)
        delivered_before = len(rig.bot.replies(tid))
        rig.bot.kill9(first)
        killed = time.monotonic()
        rig.bot.start_worker()
        done = await until_status(client, tid, "done")
        shown = [e for e in done["events"] if e["type"] == "message_sent"]

        async def all_delivered() -> bool:
            return len(rig.bot.replies(tid)) >= len(shown)

        await until(all_delivered, timeout_s=15, what="every reply delivered")
        recovered_s = time.monotonic() - killed
    assert len(ledger(rig.base)) == 1
    await assert_replies_once(rig, done)
    print(
        f"after save: {delivered_before} of {len(shown)} replies out before the kill, all "
        f"delivered once {recovered_s:.1f} s after"
    )
