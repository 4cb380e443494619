"""A GitHub workflow deploy through worker deaths (fault suite): a run goes on without the
worker that dispatched it, so its pair must stay held until GitHub reports it completed.

Real ``deploybot web`` and ``deploybot worker`` processes on a Redis of the test's own; GitHub
is the local fake (tests/fakes/github_api.py), rude as the real one: runs are listed 2-4 s
after their dispatch, among 150 newer runs of other people (the second page), and cancelled
runs go on for a while. Runs and overlaps are counted from the fake's own clock.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.github_api import FakeGithub, FakeRun, Script
from tests.faults.conftest import FaultRig, event_types, messages
from tests.harness import until, until_status, use_github_workflow
from tests.support import add_tag

pytestmark = pytest.mark.faults


def on_github(rig: FaultRig, github: FakeGithub) -> None:
    """backend deploys through the workflow; the processes talk to the fake."""
    use_github_workflow(rig.bot.config)
    rig.bot.settings |= {
        "GITHUB_TOKEN": github.token,
        "GITHUB_API_URL": github.base_url,
        "DEPLOYBOT_GITHUB_POLL_S": "0.2",
        "DEPLOYBOT_GITHUB_FIND_S": "15",
    }


def crowd(github: FakeGithub) -> Callable[[FakeRun], None]:
    def others(run: FakeRun) -> None:
        for n in range(150):
            github.add_run(f"deploy v9.{n} to staging [x{n}:ffff]", age_s=-5)

    return others


def run_of_key(github: FakeGithub, index: int) -> FakeRun:
    """The index-th run a dispatch started."""
    return [r for r in github.runs if r.inputs][index]


def key_of(thread: dict[str, Any]) -> str:
    [started] = [e for e in thread["events"] if e["type"] == "deploy_started"]
    return str(started["idempotency_key"])


def run_of(github: FakeGithub, thread: dict[str, Any]) -> FakeRun:
    [run] = [r for r in github.runs if r.inputs.get("deploybot_key") == key_of(thread)]
    return run


def states(github: FakeGithub, run: FakeRun) -> list[str]:
    [deployment] = [
        d
        for d in github.deployments
        if d["payload"]["deploybot_key"] == run.inputs["deploybot_key"]
    ]
    return [str(s["state"]) for s in github.statuses.get(int(deployment["id"]), [])]


async def test_kill_right_after_the_dispatch_with_the_next_deploy_waiting(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """Deploy a is dispatched and its worker killed before it saw the run (GitHub lists it
    2-4 s later); deploy b of the same pair is already waiting for the lock. The dead
    worker's lock lease (6 s) runs out long before a's run (12 s) does; b still starts its
    run only after GitHub reported a's completed, and a's thread and Deployment get a's
    real result from the worker that took it over."""
    rig = rig_factory()
    add_tag(rig.base / "repos" / "backend", "v1.4.3")
    async with FakeGithub(list_delay_s=(2, 4)) as github:
        github.script(Script(queued_s=0.5, running_s=12), Script(running_s=1))
        github.on_dispatch = crowd(github)
        on_github(rig, github)
        rig.bot.start_web()
        first = rig.bot.start_worker()
        async with rig.bot.client() as client:
            a = await rig.launch(client, "deploy backend v1.4.2 to staging")

            async def dispatched() -> bool:
                return bool(github.dispatches())

            await until(dispatched, what="a's dispatch")
            rig.bot.start_worker()
            b = await rig.launch(client, "deploy backend v1.4.3 to staging", user="alice")
            await asyncio.sleep(1)  # b is waiting for the lock
            rig.bot.kill9(first)
            killed = time.monotonic()
            assert not github.called(r"/actions/runs/\d+")  # a's worker never saw its run
            rig.bot.start_worker()
            done_a = await until_status(client, a, "done", "failed", timeout_s=40)
            recovered_s = time.monotonic() - killed
            done_b = await until_status(client, b, "done", "failed", "awaiting_human")
    run_a, run_b = run_of(github, done_a), run_of(github, done_b)
    overlap_s = min(run_a.ends_s(), run_b.ends_s()) - max(run_a.started_s, run_b.started_s)
    print(
        f"workflow kill -9 after dispatch: a {done_a['status']} {recovered_s:.1f} s after the "
        f"kill, b {done_b['status']}; runs {len(github.dispatches())}, overlap "
        f"{max(0.0, overlap_s):.1f} s; a's Deployment {states(github, run_a)}"
    )
    assert github.overlaps() == []
    assert run_b.started_s >= run_a.ends_s()
    assert [c.status for c in github.dispatches()] == [204, 204]  # one each, never again
    assert done_a["status"] == "done"
    assert "deploy_interrupted" not in event_types(done_a)
    assert not any("Outcome unknown" in text for text in messages(done_a))
    assert states(github, run_a) == ["in_progress", "success"]
    assert done_b["status"] == "done"


async def test_kill_while_following_the_cancel_of_a_timed_out_run(
    rig_factory: Callable[..., FaultRig],
) -> None:
    """a times out (2 s) and is cancelled; GitHub takes 4 s to end it, and a's worker is
    killed meanwhile. The next worker finds the run by its key, sees it end cancelled and
    records a timed out; b, waiting, runs after a's run ended."""
    rig = rig_factory()
    text = rig.bot.config.read_text().replace("timeout_s = 30", "timeout_s = 2", 1)
    rig.bot.config.write_text(text)
    async with FakeGithub(list_delay_s=(0.5, 1)) as github:
        github.script(Script(queued_s=0.2, running_s=60, cancel_s=4), Script(running_s=1))
        on_github(rig, github)
        rig.bot.start_web()
        first = rig.bot.start_worker()
        async with rig.bot.client() as client:
            a = await rig.launch(client, "deploy backend v1.4.2 to staging")

            async def cancelled() -> bool:
                return bool(github.called(r"/cancel$"))

            await until(cancelled, what="a's cancel")
            # b asks for the same version again: judged against what runs ahead of it (issue
            # 19.3), an older one would be refused as going backwards.
            b = await rig.launch(client, "deploy backend v1.4.2 to staging", user="alice")
            await asyncio.sleep(0.5)  # b waits in the pair's line
            rig.bot.kill9(first)
            assert run_of_key(github, 0).status()[0] == "in_progress"  # the cancel goes on
            rig.bot.start_worker()
            done_a = await until_status(client, a, "done", "failed", "awaiting_human")
            done_b = await until_status(client, b, "done", "failed", "awaiting_human")
    run_a, run_b = run_of(github, done_a), run_of(github, done_b)
    print(
        f"workflow kill -9 during the cancel: a {done_a['status']}, b {done_b['status']}; "
        f"runs {len(github.dispatches())}, overlaps {len(github.overlaps())}"
    )
    assert github.overlaps() == []
    assert run_a.status() == ("completed", "cancelled")
    assert run_b.started_s >= run_a.ends_s()
    assert done_a["status"] == "failed"
    [finished] = [e for e in done_a["events"] if e["type"] == "deploy_finished"]
    assert finished["result"] == "timed_out"
    assert done_b["status"] == "done"
