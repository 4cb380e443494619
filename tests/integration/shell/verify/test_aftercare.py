"""After a deploy (issue 12.3-12.5), through the real worker on real Redis with a real local
health endpoint whose answer the test flips: verification, rollback (proposed or at once,
counted in the deploy and rollback scripts' call logs), and quarantine of the bad version
for a person, a schedule and a webhook until an approver releases it."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.core.thread.events import (
    CronFired,
    VerificationFinished,
    VersionQuarantined,
    WebhookReceived,
)
from bot.core.thread.origin import ScheduleOrigin
from bot.shell.streams.inbound import Envelope
from tests.support import calls, free_port, make_app, say, texts, thread_of, write_setup


class Health:
    """A real HTTP health endpoint; ``status`` is what it answers now."""

    def __init__(self) -> None:
        self.status = 200
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/healthz"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def healthz(_request: web.Request) -> web.Response:
            return web.Response(status=self.status, text="ok" if self.status == 200 else "down")

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def health() -> AsyncIterator[Health]:
    server = Health()
    await server.start()
    yield server
    await server.stop()


def setup(tmp_path: Path, health: Health, *, env: str, lines: str) -> Path:
    config = write_setup(tmp_path)
    checks = f'verify_s = 0.5\nchecks = [{{ http = "{health.url}" }}]\n{lines}'
    text = config.read_text()
    if env == "staging":
        text = text.replace("[environments.staging]\napproval = false\n",
                            f"[environments.staging]\napproval = false\n{checks}")  # fmt: skip
    else:
        text = text.replace("approval_timeout_s = 3600\n", f"approval_timeout_s = 3600\n{checks}")
    config.write_text(text)
    return config


def kinds(tmp_path: Path) -> list[list[str]]:
    """(kind, version) of each deploy-script call."""
    return [c.split()[:3:2] for c in calls(tmp_path)]


async def approve_open(app: App, thread_id: str, actor: str) -> None:
    thread = await thread_of(app, thread_id)
    open_approval = thread.open_approval()
    assert open_approval is not None, texts(thread)
    await say(app, thread_id, actor, f"approve {open_approval.plan.short_id}")
    await app.worker.run_until_idle()


async def test_a_healthy_deploy_is_verified(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    config = setup(tmp_path, health, env="staging", lines="")
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    assert thread.status == "done"
    [verified] = [e for e in thread.events if isinstance(e, VerificationFinished)]
    assert verified.result == "verified"
    assert texts(thread)[-1].startswith("Verified backend v1.4.2 in staging")
    assert kinds(tmp_path) == [["deploy", "v1.4.2"]]


async def test_a_failed_verification_proposes_the_rollback_and_quarantines_the_version(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    config = setup(tmp_path, health, env="production", lines="")
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to production", new=True)
    await app.worker.run_until_idle()
    await approve_open(app, "t", "slack:U0ALICE")
    assert texts(await thread_of(app, "t"))[-1].startswith("Verified backend v1.4.1")

    health.status = 503  # the next version breaks the service
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production")
    await app.worker.run_until_idle()
    await approve_open(app, "t", "slack:U0ALICE")
    thread = await thread_of(app, "t")
    said = "\n".join(texts(thread))
    assert "Verification of backend v1.4.2 in production failed" in said
    assert "backend v1.4.2 is quarantined in production" in said
    assert any(isinstance(e, VersionQuarantined) for e in thread.events)
    # The exact rollback plan waits for approval by the environment's rollback policy.
    proposal = thread.open_approval()
    assert proposal is not None
    assert (proposal.plan.kind, proposal.plan.version) == ("rollback", "v1.4.1")
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"]]
    health.status = 200
    await approve_open(app, "t", "slack:U0BOB")
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"], ["rollback", "v1.4.1"]]

    # Nobody deploys v1.4.2 there again by accident: a person, a schedule, a webhook.
    await say(app, "p", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    now = datetime.now(UTC)
    for thread_id, event in (
        ("s", CronFired(id="c1", at=now, schedule="nightly",
                        instruction="deploy backend v1.4.2 to production")),
        ("w", WebhookReceived(id="h1", at=now, name="ci",
                              instruction="deploy backend v1.4.2 to production")),
    ):  # fmt: skip
        origin = ScheduleOrigin(name=thread_id)
        await app.context.queue.publish(Envelope(thread_id=thread_id, event=event, origin=origin))
    await app.worker.run_until_idle()
    for thread_id in ("p", "s", "w"):
        refused = texts(await thread_of(app, thread_id))[-1]
        assert refused.startswith("backend v1.4.2 is quarantined in production (by verification"), (
            thread_id,
            refused,
        )
        assert "release backend v1.4.2 in production <reason>" in refused
    assert len(calls(tmp_path)) == 3

    await say(app, "where", "slack:U0CAROL", "where can I deploy backend", new=True)
    await app.worker.run_until_idle()
    assert "quarantined: v1.4.2 (by verification" in texts(await thread_of(app, "where"))[-1]

    # Only someone named for it (release_by, default the approvers) releases it, with a
    # reason; then it may be asked for again.
    await say(
        app, "r", "slack:U0CAROL", "release backend v1.4.2 in production fixed upstream", new=True
    )
    await app.worker.run_until_idle()
    assert texts(await thread_of(app, "r"))[-1].startswith(
        "Only alice, bob or dave may release a quarantined version in production"
    )
    await say(app, "r", "slack:U0ALICE", "release backend v1.4.2 in production fixed upstream")
    await app.worker.run_until_idle()
    assert (
        "may be deployed to production again (released by alice"
        in texts(await thread_of(app, "r"))[-1]
    )
    await say(app, "p2", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    assert (await thread_of(app, "p2")).status == "awaiting_approval"


async def test_on_verify_failure_rollback_rolls_back_at_once(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    config = setup(tmp_path, health, env="staging", lines='on_verify_failure = "rollback"\n')
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to staging", new=True)
    await app.worker.run_until_idle()
    health.status = 503
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    said = "\n".join(texts(thread))
    assert "Rolling back backend v1.4.1 to staging" in said, said
    assert "Nothing to roll back to" not in said
    assert kinds(tmp_path) == [["deploy", "v1.4.1"], ["deploy", "v1.4.2"], ["rollback", "v1.4.1"]]
    assert thread.status == "done"


async def test_a_proposed_rollback_where_rollbacks_need_no_approval_waits_for_one_word(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    config = setup(tmp_path, health, env="production", lines="rollback_approval = false\n")
    app = make_app(redis, prefix=key_prefix, config_file=config)
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.1 to production", new=True)
    await app.worker.run_until_idle()
    await approve_open(app, "t", "slack:U0ALICE")
    health.status = 503
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production")
    await app.worker.run_until_idle()
    await approve_open(app, "t", "slack:U0ALICE")
    assert len(calls(tmp_path)) == 2  # proposed, not run
    await approve_open(app, "t", "slack:U0ALICE")  # one word from an approver
    assert kinds(tmp_path)[-1] == ["rollback", "v1.4.1"]
