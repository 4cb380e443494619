"""A pair's queue through a worker kill -9 (issue 19, fault suite).

Real ``deploybot web`` and ``deploybot worker`` processes on a Redis of the test's own; the
deploy script writes start/end ledger lines (tests/faults/conftest.py) and waits while the
test's gate is closed, so the pair is really held and runs are ordered by their timestamps.

A deploy holds backend in staging; two more plans queue for it; the worker is killed (kill -9:
its deploy command dies with it) while they wait. A new worker asks the target about the
killed deploy (its status command answers by idempotency key: started, never finished), which
frees the pair; then both queued plans run, in the order they joined, each exactly once, one
at a time, fenced after the one before. Nothing of the line was in the dead worker's memory.
"""

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.faults.conftest import FaultRig, event_types, ledger, messages, overlaps, running
from tests.harness import executable, until, until_status

pytestmark = pytest.mark.faults

# The target's answer for one idempotency key: 0 it finished ok; 1 it started and its
# process is gone without finishing (failed); 2 it is still running; 3 never seen.
STATUS = """#!/bin/sh
here="$(dirname "$0")"
key="$DEPLOYBOT_IDEMPOTENCY_KEY"
grep -q "^end $key .* ok$" "$here/ledger.log" && exit 0
pid="$(awk -v k="$key" '$1 == "start" && $2 == k {print $4}' "$here/ledger.log" | tail -n 1)"
[ -n "$pid" ] || exit 3
state="$(awk '$1 == "State:" {print $2}' "/proc/$pid/status" 2>/dev/null)"
case "$state" in ""|Z|X) exit 1 ;; esac
exit 2
"""


def request(version: str) -> str:
    return f"deploy backend {version} to staging"


def thread_of_key(key: str) -> str:
    """The idempotency key is the thread id and the plan hash."""
    return key.split(":")[0]


async def test_queued_plans_survive_a_worker_kill_and_run_in_order_once_each(
    rig_factory: Callable[..., FaultRig],
) -> None:
    rig = rig_factory(status_command=True)
    executable(rig.scripts / "status.sh", STATUS)
    rig.hold_deploys()
    rig.bot.start_web()
    first = rig.bot.start_worker()
    async with rig.bot.client() as client:
        holder = await rig.launch(client, request("v1.4.0"), user="dave")
        await rig.started(1)
        second = await rig.launch(client, request("v1.4.1"), user="carol")
        told_second = await until_status(client, second, "queued")
        third = await rig.launch(client, request("v1.4.2"), user="alice")
        told_third = await until_status(client, third, "queued")
        assert "is 1st in line, behind deploy backend v1.4.0 by dave" in messages(told_second)[-1]
        assert "is 2nd in line, behind backend v1.4.1 by carol" in messages(told_third)[-1]

        pid = ledger(rig.base)[0].pid
        rig.bot.kill9(first)
        killed = time.monotonic()

        async def script_gone() -> bool:
            return not running(pid)

        await until(script_gone, timeout_s=5, what="the deploy command dies with its worker")
        dead_at = {pid: time.time()}
        for tid in (second, third):  # still in line, with no worker at all
            assert (await until_status(client, tid, "queued"))["status"] == "queued"

        rig.bot.start_worker()
        failed = await until_status(client, holder, "failed", timeout_s=30)
        finished = [e for e in failed["events"] if e["type"] == "deploy_finished"]
        assert [e["result"] for e in finished] == ["failed"]  # the target's answer
        await rig.started(2, timeout_s=30)  # the first in line, once the pair is free
        await asyncio.sleep(0.5)  # the gate holds it: the next in line must not start
        assert len(ledger(rig.base)) == 2
        assert (await until_status(client, third, "queued"))["status"] == "queued"
        rig.release_deploys()
        done_second = await until_status(client, second, "done", timeout_s=30)
        done_third = await until_status(client, third, "done", timeout_s=30)
        recovered_s = time.monotonic() - killed

    calls = ledger(rig.base)
    assert [thread_of_key(c.key) for c in calls] == [holder, second, third], rig.bot.logs()
    assert len({c.key for c in calls}) == 3  # each plan ran exactly once
    assert [c.how for c in calls[1:]] == ["ok", "ok"]
    assert calls[0].how in (None, "term")  # killed with its worker, never finished
    assert overlaps(calls, dead_at=dead_at) == 0
    assert calls[0].token < calls[1].token < calls[2].token  # fenced in the order they ran
    for thread in (done_second, done_third):
        assert event_types(thread).count("deploy_started") == 1
        assert event_types(thread).count("deploy_finished") == 1
        assert "queue_turn" in event_types(thread)
    print(f"queue through kill -9: 2 queued plans ran once each, in order, {recovered_s:.1f} s")
