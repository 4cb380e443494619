"""End to end: a service that deploys through a GitHub Actions workflow, with ``deploybot web``
and ``deploybot worker`` as processes on real Redis, GitHub played by the local fake REST API
(tests/fakes/github_api.py) and Slack by the fake Web API (tests/fakes/slack_api.py).

Every dispatch is counted in the fake's call log: a deploy is one dispatch GitHub accepted.
"""

import asyncio
import itertools
import os
import re
import signal
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.core.thread.events import (
    DeployFinished,
    DeployInterrupted,
    DeployStarted,
    MessageSent,
)
from bot.core.thread.thread import Thread
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from tests.conftest import TEST_REDIS_URL
from tests.fakes.github_api import Call, FakeGithub, FakeRun, Script
from tests.fakes.slack_api import Call as SlackCall
from tests.fakes.slack_api import FakeSlack, SlackPoster, event
from tests.harness import Processes, api_client, bot_env, healthy, until, use_github_workflow
from tests.harness import launch as api_launch
from tests.support import add_tag, free_port, write_setup

pytestmark = pytest.mark.e2e

API_TOKEN = "e2e-api-token"
SIGNING_SECRET = "e2e-signing-secret"
CHANNEL = "C0DEPLOYS"
ROOT = "1700000001.000001"
KEY_INPUT = "deploybot_key"
RUN_PATH = r"/actions/runs/(\d+)(/jobs)?$"
PROGRESS = re.compile(r"\.\.\. \d+ s\. Last output: ")  # bot/core/wording/messages.py progress_text


# -- the setup ---------------------------------------------------------------------------


def workflow_setup(base: Path) -> Path:
    """write_setup's config, with backend deployed by a GitHub workflow instead of a script."""
    return use_github_workflow(write_setup(base))


def environment(
    github: FakeGithub, config: Path, key_prefix: str, *, slack: FakeSlack | None = None
) -> dict[str, str]:
    env = bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
            "DEPLOYBOT_API_TOKEN": API_TOKEN,
            "DEPLOYBOT_LEASE_TTL_MS": "1000",  # a dead worker's thread is taken over in ~1 s
            "DEPLOYBOT_GITHUB_POLL_S": "0.2",
            "GITHUB_TOKEN": github.token,
            "GITHUB_API_URL": github.base_url,
        }
    )
    if slack is not None:
        env |= {
            "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.base_url,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        }
    return env


async def launch(port: int, text: str) -> str:
    """A thread launched over the HTTP API; returns its id."""
    async with api_client(port, API_TOKEN) as client:
        return await api_launch(client, text)


async def load(store: ThreadStore, thread_id: str) -> Thread:
    thread = await store.load(thread_id)
    assert thread is not None
    return thread


def finished_of(thread: Thread) -> list[DeployFinished]:
    return [e for e in thread.events if isinstance(e, DeployFinished)]


def key_of(thread: Thread) -> str:
    [started] = [e for e in thread.events if isinstance(e, DeployStarted)]
    return started.idempotency_key


def ours(github: FakeGithub, key: str) -> FakeRun:
    """The one run whose dispatch carried our key (several would be a double deploy)."""
    [run] = [r for r in github.runs if r.inputs.get(KEY_INPUT) == key]
    return run


def polled_run_ids(github: FakeGithub) -> set[int]:
    """The runs deploybot read one by one (run and jobs): the runs it followed."""
    return {int(c.path.split("/actions/runs/")[1].split("/")[0]) for c in github.called(RUN_PATH)}


def accepted(dispatches: list[Call]) -> list[Call]:
    return [c for c in dispatches if c.status == 204]


def url_of(github: FakeGithub, run: FakeRun) -> str:
    return str(run.as_json(github.html_base)["html_url"])


def deployment_states(github: FakeGithub, key: str) -> list[str]:
    [deployment] = [d for d in github.deployments if d["payload"].get(KEY_INPUT) == key]
    assert deployment["repo"] == "acme/backend"
    assert deployment["environment"] == "staging"
    return [str(s["state"]) for s in github.statuses.get(int(deployment["id"]), [])]


# -- 1. a deploy from Slack, followed to its end ------------------------------------------


async def test_a_workflow_deploy_from_slack_follows_its_own_run_and_edits_progress(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    config = workflow_setup(tmp_path)
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeSlack() as slack, FakeGithub() as github:
        # Long enough for two of the worker's progress edits (every 5 s) while it runs.
        github.script(Script(queued_s=1, running_s=11))
        older = github.add_run("deploy v1.4.1 to staging [t0:0123abcd]", age_s=30)
        others: list[FakeRun] = [older]

        def runs_by_others(run: FakeRun) -> None:
            """Runs whose titles show a longer key that starts with ours: one older (a lower
            id) and one newer; and the newest run, somebody else's."""
            key = run.inputs[KEY_INPUT]
            older.display_title = f"deploy v1.4.1 to staging [{key}0]"
            others.append(github.add_run(f"deploy v1.4.2 to staging [{key}-2]", age_s=-1))
            others.append(github.add_run("deploy v1.4.3 to staging [t9:feedbeef]", age_s=-2))

        github.on_dispatch = runs_by_others
        env = environment(github, config, key_prefix, slack=slack)
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            async with SlackPoster(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET) as post:
                mention = event(
                    "<@U0BOT> deploy backend v1.4.2 to staging",
                    user="U0CAROL",
                    ts=ROOT,
                    event_id="EvWORKFLOW1",
                    channel=CHANNEL,
                )
                assert (await post.event(mention))[0] == 200
            await until(lambda: bool(github.dispatches()), "the dispatch", procs=procs)
            [raw_id] = await redis.zrange(Keys(key_prefix).thread_index(), 0, -1)
            assert isinstance(raw_id, bytes)
            thread_id = raw_id.decode()

            async def finished() -> bool:
                return bool(finished_of(await load(store, thread_id)))

            await until(finished, "the deploy's result", procs=procs, timeout_s=30)
            thread = await load(store, thread_id)
            await until(lambda: " ok in " in shown(slack), "the result in Slack")

        key = key_of(thread)
        run = ours(github, key)
        url = url_of(github, run)
        # Dispatched once, with the configured inputs and the idempotency key.
        [dispatch] = github.dispatches()
        assert dispatch.status == 204
        assert dispatch.path == "/repos/acme/backend/actions/workflows/deploy.yml/dispatches"
        assert dispatch.json == {
            "ref": "main",
            "inputs": {"version": "v1.4.2", "environment": "staging", KEY_INPUT: key},
        }
        # It followed its own run, never the newer ones by others nor the older one.
        assert len(others) == 3
        assert older.id < run.id
        assert all(o.created_at > run.created_at for o in others[1:])
        assert polled_run_ids(github) == {run.id}
        # The thread ends done, with the run's link in the result.
        assert thread.status == "done"
        [result] = finished_of(thread)
        assert result.result == "succeeded"
        assert result.exit_code == 0
        assert url in result.output_tail
        assert "conclusion: success" in result.output_tail
        assert not any(url_of(github, o) in result.output_tail for o in others)
        # GitHub's Environments page: one Deployment, in_progress then success, linking the run.
        assert deployment_states(github, key) == ["in_progress", "success"]
        [deployment] = github.deployments
        assert deployment["sha"] == thread_plan_sha(thread)
        assert all(s["log_url"] == url for s in github.statuses[int(deployment["id"])])

        # Progress edits of the thread's message: the run's status, job and step, the link.
        writes = [
            c
            for c in slack.calls
            if c.method in ("chat.postMessage", "chat.update") and c.args.get("channel") == CHANNEL
        ]
        progress = [c for c in writes if c.method == "chat.update" and PROGRESS.search(text(c))]
        assert len(progress) >= 2, [text(c) for c in writes]
        for edit in progress:
            assert url in text(edit)
            assert any(s in text(edit) for s in ("queued", "in_progress")), text(edit)
        assert any(
            f"in_progress: {job} / {step}" in text(edit)
            for edit in progress
            for job in ("build", "deploy")
            for step in ("Set up job", "Checkout", "Deploy", "Complete job")
        ), [text(c) for c in progress]
        assert all(c.status == 200 for c in writes)
        # At a pace Slack accepts: progress edits seconds apart; all writes to the channel
        # within a burst of 3, then one a second.
        gaps_s = [b.at_s - a.at_s for a, b in itertools.pairwise(progress)]
        assert min(gaps_s) >= 3, gaps_s
        for i, first in enumerate(writes):
            for j in range(i, len(writes)):
                span_s = writes[j].at_s - first.at_s
                assert j - i + 1 <= 3 + span_s / 1.0 + 0.2, (i, j, span_s)


def text(call: SlackCall) -> str:
    return str(call.args.get("text", ""))


def shown(slack: FakeSlack) -> str:
    """Everything the bot's messages in the Slack thread show now."""
    return " ".join(
        str(m.get("text", "")) + str(m.get("blocks", "")) for m in slack.messages.values()
    )


def thread_plan_sha(thread: Thread) -> str:
    [started] = [e for e in thread.events if isinstance(e, DeployStarted)]
    plan = thread.plan(started.plan_hash)
    assert plan is not None
    return plan.sha


async def test_the_result_message_links_the_workflow_run(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    config = workflow_setup(tmp_path)
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeGithub() as github:
        env = environment(github, config, key_prefix)
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            thread_id = await launch(port, "deploy backend v1.4.2 to staging")

            async def finished() -> bool:
                return bool(finished_of(await load(store, thread_id)))

            await until(finished, "the deploy's result", procs=procs, timeout_s=30)
            thread = await load(store, thread_id)
    url = url_of(github, ours(github, key_of(thread)))
    [result] = finished_of(thread)
    assert result.result == "succeeded"
    assert url in result.output_tail
    said = [e.text for e in thread.events if isinstance(e, MessageSent)]
    assert " ok in " in said[-1]
    assert url in said[-1], said


# -- 2. the worker killed after the dispatch ---------------------------------------------


@pytest.mark.parametrize("conclusion", ["success", "failure"])
async def test_a_worker_killed_after_the_dispatch_is_followed_by_one_that_finds_the_late_run(
    tmp_path: Path, key_prefix: str, redis: Redis, conclusion: str
) -> None:
    """GitHub lists the run 2-4 s after the dispatch, among other people's runs; the worker
    is killed right after the dispatch, before it saw the run. The next worker keeps looking
    until the find window has passed, follows the run to its end, finishes the Deployment
    and says the real result. A second deploy of the pair asked meanwhile waits: the pair
    stays held past the lock's short lease (1.5 s) until the run is over."""
    config = workflow_setup(tmp_path)
    add_tag(tmp_path / "repos" / "backend", "v1.4.3", "cache order search")
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeGithub(list_delay_s=(2, 4)) as github:
        github.script(
            Script(queued_s=0.5, running_s=6, conclusion=conclusion), Script(running_s=0.5)
        )
        github.add_run("deploy v1.4.1 to staging [t0:0123abcd]", age_s=-5)  # newer, not ours
        env = environment(github, config, key_prefix) | {
            "DEPLOYBOT_LOCK_TTL_MS": "1500",
            "DEPLOYBOT_GITHUB_FIND_S": "10",
        }
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            first = procs.start("worker")
            await healthy(port, alive=procs.procs)
            thread_id = await launch(port, "deploy backend v1.4.2 to staging")
            await until(lambda: bool(github.dispatches()), "the dispatch", procs=procs)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            [dispatch] = github.dispatches()
            dispatched = ours(github, dispatch.json["inputs"][KEY_INPUT])
            assert not polled_run_ids(github)  # killed before it ever saw the run
            procs.start("worker")
            procs.start("worker")
            await asyncio.sleep(2)  # the dead worker's lease (1.5 s) is over
            second_id = await launch(port, "deploy backend v1.4.3 to staging")

            async def both_finished() -> bool:
                threads = [await load(store, t) for t in (thread_id, second_id)]
                return all(finished_of(t) for t in threads)

            await until(both_finished, "both results", procs=procs, timeout_s=40)
            thread = await load(store, thread_id)
            second = await load(store, second_id)

    key = key_of(thread)
    run = ours(github, key)
    url = url_of(github, run)
    assert run is dispatched
    assert 2 <= run.listed_s - run.started_s <= 4
    assert len(accepted(github.dispatches())) == 2  # one each, never one again
    assert not any(isinstance(e, DeployInterrupted) for e in thread.events)
    said = " ".join(e.text for e in thread.events if isinstance(e, MessageSent))
    assert "Outcome unknown" not in said
    [result] = finished_of(thread)
    expected = "succeeded" if conclusion == "success" else "failed"
    assert result.result == expected
    assert url in result.output_tail
    assert f"conclusion: {conclusion}" in result.output_tail
    assert thread.status == ("done" if conclusion == "success" else "failed")
    # The Deployment the first worker recorded, with no status yet, gets the whole story.
    assert deployment_states(github, key) == ["in_progress", conclusion]
    # The second deploy of the pair ran after GitHub reported the first run completed.
    assert github.overlaps() == []
    later = ours(github, key_of(second))
    assert later.started_s >= run.ends_s()
    assert [e.result for e in finished_of(second)] == ["succeeded"]


# -- 2b. a GitHub run is over when GitHub says so -----------------------------------------


async def test_a_timed_out_run_holds_the_pair_until_github_reports_it_completed(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    """The first deploy times out at 2 s and its run is cancelled, which takes GitHub 3 s;
    a second deploy of the same pair, waiting meanwhile, starts its run only after GitHub
    reported the first one completed: no overlap."""
    config = workflow_setup(tmp_path)
    config.write_text(config.read_text().replace("timeout_s = 30", "timeout_s = 2", 1))
    add_tag(tmp_path / "repos" / "backend", "v1.4.3", "cache order search")
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeGithub(list_delay_s=(0.5, 1)) as github:
        github.script(Script(queued_s=0.2, running_s=60, cancel_s=3), Script(running_s=0.5))
        env = environment(github, config, key_prefix) | {"DEPLOYBOT_GITHUB_FIND_S": "10"}
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            first_id = await launch(port, "deploy backend v1.4.2 to staging")
            await until(lambda: bool(github.dispatches()), "the first dispatch", procs=procs)
            second_id = await launch(port, "deploy backend v1.4.3 to staging")

            async def both_finished() -> bool:
                threads = [await load(store, t) for t in (first_id, second_id)]
                return all(finished_of(t) for t in threads)

            await until(both_finished, "both results", procs=procs, timeout_s=40)
            first = await load(store, first_id)
            second = await load(store, second_id)

    [timed_out] = finished_of(first)
    assert timed_out.result == "timed_out"
    run = ours(github, key_of(first))
    assert run.status() == ("completed", "cancelled")
    assert run.cancelled_at_s is not None
    assert "GitHub reports it completed" in timed_out.output_tail
    later = ours(github, key_of(second))
    # Measured in the fake: the second run began after the first ended, not at the cancel.
    assert github.overlaps() == []
    assert later.started_s >= run.ends_s() >= run.cancelled_at_s + 3
    assert [e.result for e in finished_of(second)] == ["succeeded"]
    assert deployment_states(github, key_of(first)) == ["in_progress", "error"]
    assert deployment_states(github, key_of(second)) == ["in_progress", "success"]
    assert len(github.dispatches()) == 2


async def test_a_dispatch_whose_run_never_shows_is_held_as_unknown_until_unlocked(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    """GitHub accepted the dispatch, but no run shows the key within the find window: the
    outcome is unknown, never "failed"; the pair stays held (another deploy waits in line, not
    run) until a person says 'unlock staging', then that one runs."""
    config = workflow_setup(tmp_path)
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    lock_key = Keys(key_prefix).env_lock("backend", "staging")
    async with FakeGithub(run_name="deploy {version} to {environment}") as github:
        env = environment(github, config, key_prefix) | {"DEPLOYBOT_GITHUB_FIND_S": "2"}
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            first_id = await launch(port, "deploy backend v1.4.2 to staging")

            async def held() -> bool:
                return (await load(store, first_id)).status == "awaiting_human"

            await until(held, "the unknown outcome", procs=procs, timeout_s=20)
            first = await load(store, first_id)
            stored = await redis.get(lock_key)
            blocked_id = await launch(port, "deploy backend v1.4.1 to staging")

            async def in_line() -> bool:
                return (await load(store, blocked_id)).status == "queued"

            await until(in_line, "the second deploy waiting in line", procs=procs)
            blocked = await load(store, blocked_id)
            github.run_name = FakeGithub.run_name  # the workflow's run-name fixed
            unlock_id = await launch(port, "unlock staging")
            await until(
                lambda: _gone(redis, lock_key), "the pair released", procs=procs, timeout_s=10
            )

            # Released: the plan waiting in line gets its turn (issue 19.3).
            async def again_finished() -> bool:
                return bool(finished_of(await load(store, blocked_id)))

            await until(again_finished, "the deploy after the unlock", procs=procs)
            unlocked = await load(store, unlock_id)

    assert not finished_of(first)  # never "failed"
    assert any(isinstance(e, DeployInterrupted) for e in first.events)
    said = [e.text for e in first.events if isinstance(e, MessageSent)]
    assert said[-1].startswith("Outcome unknown: backend v1.4.2")
    assert "GitHub accepted the dispatch, but no run showing its key appeared" in said[-1]
    assert "staging stays held for backend until" in said[-1]
    assert stored is not None
    assert b'"interrupted":true' in stored
    assert not any(isinstance(e, DeployStarted) for e in blocked.events)
    told = [e.text for e in blocked.events if isinstance(e, MessageSent)]
    assert any("1st in line, behind interrupted deploy" in t for t in told), told
    assert unlocked.status == "done"
    assert [c.status for c in github.dispatches()] == [204, 204]  # the held one, then again
    assert github.overlaps() == []


async def _gone(redis: Redis, key: str) -> bool:
    return await redis.get(key) is None


# -- 3. a rate-limited dispatch -----------------------------------------------------------


@pytest.mark.parametrize("fault", ["403", "429"])
async def test_a_rate_limited_dispatch_is_retried_once_after_the_limit(
    tmp_path: Path, key_prefix: str, redis: Redis, fault: str
) -> None:
    config = workflow_setup(tmp_path)
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeGithub() as github:
        # 403 with x-ratelimit-remaining: 0 and a reset ~1 s ahead; 429 with retry-after: 1.
        github.fail("dispatch", "403" if fault == "403" else "429", wait_s=1)
        env = environment(github, config, key_prefix)
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            thread_id = await launch(port, "deploy backend v1.4.2 to staging")

            async def finished() -> bool:
                return bool(finished_of(await load(store, thread_id)))

            await until(finished, "the deploy's result", procs=procs, timeout_s=30)
            thread = await load(store, thread_id)
            dispatches = github.dispatches()

    key = key_of(thread)
    assert [c.status for c in dispatches] == [int(fault), 204]
    assert len(accepted(dispatches)) == 1
    assert all(c.json["inputs"][KEY_INPUT] == key for c in dispatches)
    waited_s = dispatches[1].at_s - dispatches[0].at_s
    assert waited_s >= 0.95, waited_s  # after the limit, not before
    run = ours(github, key)
    [result] = finished_of(thread)
    assert result.result == "succeeded"
    assert url_of(github, run) in result.output_tail
    assert thread.status == "done"
    assert deployment_states(github, key) == ["in_progress", "success"]


async def test_a_dispatch_github_acted_on_but_answered_500_is_not_dispatched_again(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    """The answer is lost (a 5xx), not the dispatch: its run is found by key and followed."""
    config = workflow_setup(tmp_path)
    port = free_port()
    store = ThreadStore(redis=redis, keys=Keys(key_prefix))
    async with FakeGithub() as github:
        github.fail("dispatch", "500-after-create")
        env = environment(github, config, key_prefix)
        with Processes(env, tmp_path) as procs:
            procs.web(port)
            procs.start("worker")
            await healthy(port, alive=procs.procs)
            thread_id = await launch(port, "deploy backend v1.4.2 to staging")

            async def finished() -> bool:
                return bool(finished_of(await load(store, thread_id)))

            await until(finished, "the deploy's result", procs=procs, timeout_s=30)
            thread = await load(store, thread_id)

    key = key_of(thread)
    assert [c.status for c in github.dispatches()] == [500]
    run = ours(github, key)  # exactly one run: GitHub acted on the one dispatch
    [result] = finished_of(thread)
    assert result.result == "succeeded"
    assert url_of(github, run) in result.output_tail
    assert polled_run_ids(github) == {run.id}
