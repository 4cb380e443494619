"""Redis on RDB snapshots alone (Debian's default) crashes after a deploy and comes back from
an older snapshot (fault suite, issue 16.4).

A redis-server of the test's own runs ``--save "1 1" --appendonly no``. carol asks for a
production deploy; when it waits for approval the test takes a snapshot (SAVE) and keeps a
copy. bob approves and the deploy runs to its end. Then Redis is killed (-9) and started
again from the copy: the thread waits for approval again, and the idempotency claim and the
deploy history are gone with everything else written since. alice approves the same plan.

With the service's ``status`` command (asked by idempotency key) the plan does not run a
second time: the thread says it already ran. Without one, nothing that survived knows, and
it runs twice: the control case, and what the check-config warning (printed here too) is
for. Runs and overlaps are counted from the deploy script's ledger.
"""

import asyncio
import shutil
import time
from collections.abc import Callable

import pytest
import redis

from tests.faults.conftest import FaultRig, ledger, messages, overlaps
from tests.harness import RedisServer, approve, deploybot, read_thread, until, until_status

pytestmark = pytest.mark.faults

PROD = "deploy backend v1.4.2 to production"


def snapshot_now(server: RedisServer) -> None:
    """A snapshot on disk now (SAVE: the same file BGSAVE writes, without waiting for it),
    and a copy of it kept as ``dump.before``."""
    client = server.client()
    deadline = time.monotonic() + 10
    while True:
        try:
            assert client.save()
            break
        except redis.ResponseError:  # "save 1 1" may be writing one in the background
            assert time.monotonic() < deadline, "no snapshot could be taken"
            time.sleep(0.05)
    shutil.copy(server.folder / "dump.rdb", server.folder / "dump.before")


def crash_back_to_the_snapshot(server: RedisServer) -> None:
    """kill -9, then start again from the older snapshot: what a crash between snapshots
    leaves (everything written since the last one is gone)."""
    server.kill9()
    shutil.copy(server.folder / "dump.before", server.folder / "dump.rdb")
    server.start()


@pytest.mark.parametrize("with_status", [True, False], ids=["status-command", "no-status"])
async def test_a_crash_back_to_an_older_rdb_snapshot_does_not_run_a_plan_twice(
    rig_factory: Callable[..., FaultRig], with_status: bool
) -> None:
    rig = rig_factory(status_command=with_status)
    rig.redis.stop()
    rig.redis.persistence = "rdb"  # RDB snapshots, no AOF (dump.rdb is loaded at start)
    rig.redis.start()
    checked = deploybot("check-config", env=rig.bot.env(), cwd=rig.base, timeout_s=60)
    assert 'warning: Redis keeps RDB snapshots only (appendonly no, save "1 1")' in (
        checked.stdout
    ), checked.stdout
    rig.bot.start_web()
    rig.bot.start_worker()
    async with rig.bot.client() as client:
        tid = await rig.launch(client, PROD)
        await until_status(client, tid, "awaiting_approval")
        snapshot_now(rig.redis)
        await approve(client, tid)
        first = await until_status(client, tid, "done", "failed", "awaiting_human")
        assert first["status"] == "done"
        assert [c.how for c in ledger(rig.base)] == ["ok"]

        crash_back_to_the_snapshot(rig.redis)
        began = time.monotonic()
        again = await until_status(client, tid, "awaiting_approval", timeout_s=30)
        assert again["status"] == "awaiting_approval"  # the approval and the deploy are lost
        await approve(client, tid, user="alice")

        async def answered() -> bool:
            seen = await read_thread(client, tid)
            return seen["status"] != "running" and seen["status"] != "awaiting_approval"

        await until(answered, timeout_s=30, what="the second approval handled")
        await asyncio.sleep(0.5)  # a second run would have written its start line by now
        final = await read_thread(client, tid)
        answered_s = time.monotonic() - began
    calls = ledger(rig.base)
    print(
        f"RDB rollback, {'with' if with_status else 'without'} a status command: "
        f"{len(calls)} run(s) of one plan, {overlaps(calls)} overlapping, thread "
        f"{final['status']} {answered_s:.1f} s after the restart"
    )
    assert "Redis keeps RDB snapshots only" in rig.bot.logs()  # said at start-up too
    assert overlaps(calls) == 0
    assert len({c.key for c in calls}) == 1
    if with_status:
        assert len(calls) == 1
        assert final["status"] == "awaiting_human"
        said = messages(final)[-1]
        assert "already ran and succeeded (its service's status command says so" in said
        assert final.get("approval") is None  # nothing left to approve
    else:
        assert len(calls) == 2  # nothing that survived knew: what appendonly prevents
