"""End to end: a scheduled run asks for approval by email and is approved by a reply.

``deploybot clock``, ``deploybot worker`` and ``deploybot mail`` run as their own processes
on real Redis; Dovecot holds the bot's mailbox and aiosmtpd captures what the bot sends.
"""

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from tests.conftest import TEST_REDIS_URL
from tests.fakes.mail_servers import Dovecot, SmtpCapture
from tests.harness import Processes, bot_env, clock_ran_before, once_at, schedule_toml, until
from tests.integration.channels.email.test_email_flow import OURS_PASS, reply
from tests.support import calls, write_setup

pytestmark = pytest.mark.e2e


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


async def test_a_scheduled_run_is_approved_by_an_email_reply(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    due = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    schedule = schedule_toml(
        "promote",
        once_at(due),
        "deploy backend v1.4.2 to production",
        timezone="UTC",
        report_to="email:ops@example.com",
        missed="run_once",
    )
    config = write_setup(tmp_path, tail=schedule)
    # The clock may start after ``due`` on a busy machine: it must still find the time due.
    await clock_ran_before(redis, prefix=key_prefix, schedule="promote", at=datetime.now(UTC))
    (tmp_path / "dovecot").mkdir()
    dovecot = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    dovecot.start()
    smtp = SmtpCapture()
    await smtp.start()
    env = bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
            "DEPLOYBOT_SECRET": "e2e-mail-secret",
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(dovecot.port),
            "IMAP_USERNAME": "deploybot",
            "IMAP_PASSWORD": "pw",
            "IMAP_SSL": "false",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "EMAIL_FROM": "deploybot@example.com",
            "EMAIL_AUTHSERV_ID": "mx.example.com",  # EMAIL_REQUIRE_DMARC unset: required
        }
    )
    try:
        with Processes(env, tmp_path, logs=False) as procs:
            for command in ("clock", "worker", "mail"):
                procs.start(command)
            await until(
                lambda: bool(smtp.to("alice@example.com") and smtp.to("ops@example.com")),
                "the approval email and the report",
                timeout_s=30,
                alive=procs.procs,
            )
            [approval] = smtp.to("alice@example.com")
            assert "Plan #" in _plain(approval)
            assert "'approve' or 'reject <reason>'" in _plain(approval)
            assert approval["Subject"] == (
                "[deploybot] promote: deploy backend v1.4.2 to production"
            )
            [report] = smtp.to("ops@example.com")  # where the schedule reports
            assert "needs 1 approval" in _plain(report)

            spoofed = reply(approval, "approve", n=9)  # alice's token, no dmarc=pass
            dovecot.save("deploybot", spoofed.encode())
            authentic = reply(approval, "approve", headers=OURS_PASS)
            dovecot.save("deploybot", authentic.encode())
            await until(lambda: len(calls(tmp_path)) == 1, "the deploy", timeout_s=30)
            await until(
                lambda: any("is live" in _plain(m) for m in smtp.to("ops@example.com")),
                "the result email",
                timeout_s=30,
            )
            again = reply(approval, "approve", n=2, headers=OURS_PASS)
            dovecot.save("deploybot", again.encode())
            await until(
                lambda: any("already approved" in _plain(m) for m in smtp.to("alice@example.com")),
                "the answer to a second approval",
                timeout_s=30,
            )
        assert len(calls(tmp_path)) == 1
        store = ThreadStore(redis=redis, keys=Keys(prefix=key_prefix))
        ids = await store.recent_ids()
        assert len(ids) == 1  # one scheduled time, one thread
        thread = await store.load(ids[0])
        assert thread is not None
        assert thread.status == "done"
        assert thread.origin.kind == "schedule"
        decided = [e for e in thread.events if e.type == "decision_received"]
        assert [e.id for e in decided] == ["<reply1@mail.example.com>", "<reply2@mail.example.com>"]
        for message in smtp.to("ops@example.com"):
            assert message["Auto-Submitted"] == "auto-generated"
            assert message["References"] == f"<deploybot.{thread.id}.thread@example.com>"
    finally:
        await smtp.stop()
        dovecot.stop()
