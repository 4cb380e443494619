"""Deploy announcements (issue 19.5) through the real worker: an environment's ``announce``
route hears of each deploy there in ONE Slack message, posted at its start and edited in
place (chat.update) at its end and at its verification; by email each update is a mail in
one email thread. Slack: the real Bolt app and slack_sdk against the fake Web API; email:
the real EmailSender against a real SMTP server (aiosmtpd); real Redis, git, deploy scripts
and a real HTTP health endpoint whose answer follows the version the scripts last deployed.
"""

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.shell.store.channel_state import RedisMailState
from channels.email.sender import EmailSender, SmtpServer
from tests.fakes.mail_servers import SmtpCapture
from tests.fakes.slack_api import Call
from tests.integration.channels.slack.test_slack import (
    CHANNEL,
    REQUEST,
    ROOT,
    Harness,
    open_harness,
)
from tests.support import calls, free_port, make_app, say, thread_of, write_setup

RELEASES = "C0RELEASES"


class Health:
    """A real health endpoint: 503 while the deploy scripts' newest call is of ``bad``."""

    def __init__(self, base: Path, *, bad: str | None = None) -> None:
        self.base = base
        self.bad = bad
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/healthz"
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def healthz(_request: web.Request) -> web.Response:
            newest = calls(self.base)[-1:]
            broken = self.bad is not None and any(self.bad in line.split() for line in newest)
            return web.Response(status=503 if broken else 200)

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def health(tmp_path: Path) -> AsyncIterator[Health]:
    server = Health(tmp_path)
    await server.start()
    yield server
    await server.stop()


def watched(health: Health, *lines: str) -> str:
    """An environment's lines: verified with the health check for half a second."""
    return "\n".join([*lines, "verify_s = 0.5", f'checks = [{{ http = "{health.url}" }}]'])


def posts(slack: Harness, channel: str) -> list[Call]:
    return [c for c in slack.fake.called("chat.postMessage") if c.args["channel"] == channel]


def updates(slack: Harness, channel: str, ts: str) -> list[str]:
    """The texts ``chat.update`` wrote into one message, in order."""
    return [
        str(c.args["text"])
        for c in slack.fake.called("chat.update")
        if (c.args["channel"], c.args["ts"]) == (channel, ts)
    ]


async def test_a_deploy_is_announced_in_one_slack_message_edited_in_place(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    production = watched(health, f'announce = "slack:{RELEASES}"')
    config = write_setup(tmp_path, production=production)
    async with open_harness(redis, key_prefix, tmp_path, config=config) as slack:
        assert await slack.say(REQUEST, user="U0CAROL") == 200
        await slack.pump()
        assert posts(slack, RELEASES) == []  # a plan waiting for approval is not announced
        assert await slack.click("U0BOB", slack.card()) == 200
        await slack.pump()

        assert len(calls(tmp_path)) == 1
        [post] = posts(slack, RELEASES)  # one message per deploy in the announce channel
        ts = post.result["ts"]
        assert post.args.get("thread_ts") is None  # a message of its own there
        started = str(post.args["text"])
        assert started.startswith("Deploying backend v1.4.2 (")
        assert started.splitlines()[0].endswith(") to production: started 09:00 UTC.")
        assert "Asked by carol; approved by bob." in started
        assert "First deploy: 3 commits up to v1.4.2:\n  " in started  # the card's facts
        finished, verified = updates(slack, RELEASES, ts)  # edited in place, twice
        assert finished.startswith("Deployed backend v1.4.2 (")
        assert "to production: finished 09:00 UTC, after" in finished
        assert "Verifying with 1 check for 0.5 s." in finished
        assert verified.startswith("Deployed backend v1.4.2 (")
        assert "to production and verified at 09:00 UTC; the deploy took" in verified
        assert "Asked by carol; approved by bob." in verified
        assert slack.fake.messages[(RELEASES, ts)]["text"] == verified
        # The thread itself goes on as before, in its own Slack thread.
        assert {c.args["thread_ts"] for c in posts(slack, CHANNEL)} == {ROOT}
        assert (await slack.thread()).status == "done"

        await slack.pump()  # nothing more to deliver: no second copy, no further edit
        assert len(posts(slack, RELEASES)) == 1
        assert len(updates(slack, RELEASES, ts)) == 2


async def test_a_thread_in_the_announce_channel_gets_no_second_copy(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    production = watched(health, f'announce = "slack:{CHANNEL}"')
    config = write_setup(tmp_path, production=production)
    async with open_harness(redis, key_prefix, tmp_path, config=config) as slack:
        assert await slack.say(REQUEST, user="U0CAROL") == 200
        await slack.pump()
        assert await slack.click("U0BOB", slack.card()) == 200
        await slack.pump()
        assert len(calls(tmp_path)) == 1
        assert (await slack.thread()).status == "done"
        # Only the thread's own messages (its card, its verification), all in its thread.
        assert {c.args["thread_ts"] for c in slack.fake.called("chat.postMessage")} == {ROOT}
        thread = await slack.thread()
        assert [e for e in thread.events if e.type == "message_sent" and e.route] == []


async def test_a_rolled_back_deploy_is_announced_as_rolled_back(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    """staging rolls back at once when verification fails: the bad deploy's message ends
    "rolled back", and the rollback announces itself, as a rollback, beneath it."""
    health.bad = "v1.4.2"
    staging = watched(health, f'announce = "slack:{RELEASES}"', 'on_verify_failure = "rollback"')
    config = write_setup(tmp_path)
    text = config.read_text().replace("[environments.staging]\napproval = false\n", "")
    config.write_text(f"{text}\n[environments.staging]\napproval = false\n{staging}\n")
    async with open_harness(redis, key_prefix, tmp_path, config=config) as slack:
        assert await slack.say("<@U0BOT> deploy backend v1.4.1 to staging", user="U0CAROL") == 200
        await slack.pump()
        second = "1700000002.000001"
        said = await slack.say(
            "<@U0BOT> deploy backend v1.4.2 to staging", user="U0CAROL", ts=second
        )
        assert said == 200
        await slack.pump()

        assert [c.split()[:3:2] for c in calls(tmp_path)] == [
            ["deploy", "v1.4.1"],
            ["deploy", "v1.4.2"],
            ["rollback", "v1.4.1"],
        ]
        first, bad, back = posts(slack, RELEASES)  # one per deploy, the rollback's too
        assert first.args.get("thread_ts") is None
        assert bad.args.get("thread_ts") is None  # another bot thread: a message of its own
        assert back.args["thread_ts"] == bad.result["ts"]  # the rollback, beneath its deploy
        assert str(back.args["text"]).startswith("Rolling back backend in staging to v1.4.1 (")
        assert updates(slack, RELEASES, first.result["ts"])[-1].startswith(
            "Deployed backend v1.4.1 ("
        )
        assert "to staging and verified at" in updates(slack, RELEASES, first.result["ts"])[-1]
        shown = updates(slack, RELEASES, bad.result["ts"])
        assert "but its verification FAILED at 09:00 UTC" in shown[-2]
        rolled_back = "its verification failed and it was rolled back to v1.4.1 at 09:00 UTC."
        assert rolled_back in shown[-1]
        rolled = updates(slack, RELEASES, back.result["ts"])
        [done] = rolled  # a rollback is not verified (it goes back to a verified version)
        assert done.startswith("Rolled back backend in staging to v1.4.1 (")
        assert "): finished 09:00 UTC, after" in done
        assert "Verifying" not in done
        assert "Rolling back removes 1 commit (in v1.4.2, not in v1.4.1):" in done
        assert slack.fake.messages[(RELEASES, bad.result["ts"])]["text"] == shown[-1]


def plain(mail: EmailMessage) -> str:
    part = mail.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


async def test_an_email_route_gets_each_update_as_a_mail_in_one_thread(
    redis: Redis, key_prefix: str, tmp_path: Path, health: Health
) -> None:
    staging = watched(health, 'announce = "email:releases@example.com"')
    config = write_setup(tmp_path)
    text = config.read_text().replace("[environments.staging]\napproval = false\n", "")
    config.write_text(f"{text}\n[environments.staging]\napproval = false\n{staging}\n")
    app = make_app(redis, prefix=key_prefix, config_file=config)
    smtp = SmtpCapture()
    await smtp.start()
    try:
        sender = EmailSender(
            smtp=SmtpServer(host="127.0.0.1", port=smtp.port, starttls=False, timeout_s=5),
            from_address="deploybot@example.com",
            secret=b"s3cret",
            emails={"alice": "alice@example.com"},
            state=RedisMailState(redis=redis, keys=app.context.keys),
            clock=lambda: app.context.clock.now(),
        )
        await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
        await app.worker.run_until_idle()
        assert (await thread_of(app, "t")).status == "done"
        await app.context.outbox.ensure_group("email")
        while await app.context.outbox.deliver_some(
            channel="email", sender=sender, consumer="t", block_ms=None
        ):
            pass
        await app.context.outbox.deliver_some(  # a retry finds nothing left to send
            channel="email", sender=sender, consumer="t", block_ms=None, retry_idle_ms=0
        )
    finally:
        await smtp.stop()

    mails = smtp.to("releases@example.com")
    assert [rcpts for rcpts, _mail in smtp.messages] == [["releases@example.com"]] * 3
    bodies = [plain(m) for m in mails]
    assert bodies[0].startswith("Deploying backend v1.4.2 (")
    assert bodies[1].startswith("Deployed backend v1.4.2 (")
    assert "Verifying with 1 check for 0.5 s." in bodies[1]
    assert "to staging and verified at 09:00 UTC" in bodies[2]
    assert all("Asked by carol." in body for body in bodies)
    # One email thread: the same subject and root, each mail its own stable id.
    assert {m["Subject"] for m in mails} == {"[deploybot] deploy backend v1.4.2 to staging"}
    assert len({m["In-Reply-To"] for m in mails}) == 1
    assert len({m["Message-ID"] for m in mails}) == 3
