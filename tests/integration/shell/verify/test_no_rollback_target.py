"""Nothing to roll back to (issue 16.7), through the real worker on real Redis, real git
tags, real deploy and rollback scripts (their call log counted) and a real local health
endpoint that answers 503: the first deploy to an environment fails verification, or every
earlier version is quarantined. The thread says so plainly with what a person can do, no
rollback is planned, proposed or run, the model is never asked, and the thread ends
``failed`` (not waiting for a reply nobody was asked for)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.core.thread.events import IntentChosen, PlanProposed, VerificationFinished
from bot.core.thread.intents import Rollback
from bot.core.thread.thread import Thread
from tests.integration.shell.verify.test_aftercare import Health, approve_open, kinds, setup
from tests.support import ScriptedAgent, make_app, say, texts, thread_of


@pytest.fixture
async def down() -> AsyncIterator[Health]:
    """The service's health endpoint, answering 503 from the start."""
    server = Health()
    server.status = 503
    await server.start()
    yield server
    await server.stop()


def said(thread: Thread) -> str:
    return "\n".join(texts(thread))


def assert_no_rollback_planned(thread: Thread) -> None:
    assert not [
        e for e in thread.events if isinstance(e, PlanProposed) and e.plan.kind == "rollback"
    ]
    assert thread.open_approval() is None
    assert "Rolling" not in said(thread)
    assert "I understand these commands" not in said(thread)  # never the help text


@pytest.mark.parametrize("mode", ["rollback", "propose"])
async def test_the_first_deploy_to_an_environment_that_fails_verification(
    redis: Redis, key_prefix: str, tmp_path: Path, down: Health, mode: str
) -> None:
    config = setup(tmp_path, down, env="staging", lines=f'on_verify_failure = "{mode}"\n')
    agent = ScriptedAgent()  # raises if it is ever asked
    app = make_app(redis, prefix=key_prefix, config_file=config, agent=agent)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()

    thread = await thread_of(app, "t")
    [verdict] = [e for e in thread.events if isinstance(e, VerificationFinished)]
    assert verdict.result == "failed"
    last = texts(thread)[-1]
    assert last.startswith("Verification of backend v1.4.2 in staging failed: http "), last
    assert "expected 200: down. Nothing to roll back to: there was no successful deploy of " in last
    assert (
        "Nothing to roll back to: there was no successful deploy of backend to staging before "
        "v1.4.2. backend v1.4.2 stays quarantined in staging: nothing deploys it there again "
        "until an approver releases it. What you can do: go back to a version you know works "
        "(`rollback backend in staging to <version>`), deploy a fixed one (`deploy backend "
        "<version> to staging`), or fix the cause and have an approver lift the quarantine "
        "(`release backend v1.4.2 in staging <reason>`) to deploy it again."
    ) in last
    assert not [e for e in thread.events if isinstance(e, IntentChosen)][1:]  # no rollback
    assert_no_rollback_planned(thread)
    assert thread.status == "failed"
    assert kinds(tmp_path) == [["deploy", "v1.4.2"]]
    assert agent.seen == []

    # What it says works: going back to a version by name.
    down.status = 200
    await say(app, "t", "slack:U0CAROL", "rollback backend in staging to v1.4.1")
    await app.worker.run_until_idle()
    assert kinds(tmp_path) == [["deploy", "v1.4.2"], ["rollback", "v1.4.1"]]
    assert (await thread_of(app, "t")).status == "done"


async def test_an_approved_first_deploy_to_production_proposes_no_rollback(
    redis: Redis, key_prefix: str, tmp_path: Path, down: Health
) -> None:
    config = setup(tmp_path, down, env="production", lines="")  # propose, with approval
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    await approve_open(app, "t", "slack:U0ALICE")

    thread = await thread_of(app, "t")
    assert "Nothing to roll back to" in texts(thread)[-1], said(thread)
    assert "(`deploy backend <version> to production`)" in texts(thread)[-1]
    assert_no_rollback_planned(thread)
    assert thread.status == "failed"
    assert kinds(tmp_path) == [["deploy", "v1.4.2"]]


async def test_every_earlier_version_quarantined_leaves_nothing_to_roll_back_to(
    redis: Redis, key_prefix: str, tmp_path: Path, down: Health
) -> None:
    """v1.4.1 fails first (nothing before it), then v1.4.2 fails too: the only version to
    go back to is quarantined, so the rollback the bot chooses finds no target."""
    config = setup(tmp_path, down, env="staging", lines='on_verify_failure = "rollback"\n')
    agent = ScriptedAgent()
    app = make_app(redis, prefix=key_prefix, config_file=config, agent=agent)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t")).status == "failed"

    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    chosen = [e for e in thread.events if isinstance(e, IntentChosen)]
    assert isinstance(chosen[-1].intent, Rollback)  # it did look for a version to go back to
    assert chosen[-1].source == "system"
    last = texts(thread)[-1]
    assert last.startswith(
        "The rollback of backend in staging cannot run: There is no earlier successful deploy "
        "of backend to staging to roll back to."
    ), last
    assert "backend v1.4.2 stays quarantined in staging: nothing deploys it" in last
    assert "(`rollback backend in staging to <version>`)" in last
    assert "release backend v1.4.2 in staging <reason>" in last
    assert_no_rollback_planned(thread)
    assert thread.status == "failed"
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"]]
    assert agent.seen == []

    # The thread is not stuck: the next request is handled as usual.
    await say(app, "t", "slack:U0CAROL", "status")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t")).status != "running"
