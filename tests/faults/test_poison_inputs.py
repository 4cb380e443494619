"""Poison inputs against real processes (fault suite): no single input stops a channel.

Each case feeds a real process what killed or jammed it before, then a valid request, and
counts: the valid request's deploy in the deploy script's ledger (exactly once), the
process still running, the hostile input set aside (``deploybot audit`` shows it) and never
handled again, also after the process restarts.

- mail: ``deploybot mail`` on a real Dovecot; the issue's 66 KB email of 1,000 nested parts
  (it raised ``RecursionError``, the process exited and met it again at every restart).
- web: ``deploybot web`` with Slack, the API and a webhook; bodies nested thousands deep.
- worker: ``deploybot worker``; stored entries that are no event.
"""

import asyncio
import hashlib
import hmac
import json
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.fakes.mail_servers import Dovecot, SmtpCapture
from tests.faults.conftest import FaultRig, ledger
from tests.harness import deploybot, until, webhook_toml
from tests.poison import nested_mail

pytestmark = pytest.mark.faults

SIGNING = "poison-signing-secret"
HOOK_SECRET = "poison-webhook-secret"
OURS_PASS = (
    "Authentication-Results: mx.example.com; spf=pass smtp.mailfrom=example.com; "
    "dmarc=pass header.from=example.com\r\n"
)


def request_mail(n: int, text: str = "deploy backend to staging") -> bytes:
    return (
        f"{OURS_PASS}From: Dave <dave@example.com>\r\nTo: deploybot@example.com\r\n"
        f"Subject: deploy\r\nMessage-ID: <ok{n}@mail.example.com>\r\n\r\n{text}\r\n"
    ).encode()


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return str(part.get_content()) if part is not None else ""


def audit(rig: FaultRig) -> list[dict[str, object]]:
    done = deploybot("audit", "--since", "1h", env=rig.bot.env(), cwd=rig.base, timeout_s=30)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line]
    return [r for r in records if r["event"] == "input_set_aside"]


async def deploys(rig: FaultRig, count: int) -> None:
    async def enough() -> bool:
        return len([c for c in ledger(rig.base) if c.end_s is not None]) >= count

    await until(enough, timeout_s=30, what=f"{count} deploy(s) done")
    await asyncio.sleep(0.5)  # and no more
    assert len(ledger(rig.base)) == count


async def test_mail_process_sets_the_poison_aside_and_handles_the_next(
    rig_factory,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    (tmp_path / "dovecot").mkdir()
    dovecot = Dovecot(tmp_path / "dovecot", {"deploybot": "pw"})
    dovecot.start()
    smtp = SmtpCapture()
    await smtp.start()
    rig: FaultRig = rig_factory(
        settings={
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(dovecot.port),
            "IMAP_USERNAME": "deploybot",
            "IMAP_PASSWORD": "pw",
            "IMAP_SSL": "false",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "EMAIL_FROM": "deploybot@example.com",
            "EMAIL_AUTHSERV_ID": "mx.example.com",
            "DEPLOYBOT_SECRET": "poison-secret",
        }
    )
    try:
        dovecot.save("deploybot", nested_mail(1000))  # a stranger's
        vouched = OURS_PASS.encode() + nested_mail(1000, sender="dave@example.com", n=1)
        dovecot.save("deploybot", vouched)  # dave's, and our MX vouches for it
        dovecot.save("deploybot", request_mail(1))
        mail = rig.bot.start("mail", log="mail.log")
        rig.bot.start_worker()
        await deploys(rig, 1)
        await smtp.wait_for(2, timeout_s=15)  # dave is told his nested mail was not read,
        said = [plain(m) for m in smtp.to("dave@example.com")]  # and the request's result
        assert sum("could not be read (parts nested over 20 deep)" in t for t in said) == 1
        assert mail.poll() is None, "deploybot mail exited"

        mail.terminate()  # a restart fetches none of them again
        mail.wait(timeout=10)
        again = rig.bot.start("mail", log="mail.log")
        dovecot.save("deploybot", request_mail(2, "deploy frontend to staging"))
        await deploys(rig, 2)
        assert again.poll() is None
        await asyncio.sleep(1)
        said = [plain(m) for m in smtp.to("dave@example.com")]
        assert sum("could not be read" in t for t in said) == 1  # not told again
        found = audit(rig)
        assert [(r["channel"], r["reason"]) for r in found] == [("email", "too_deep")] * 2
        log = (rig.base / "mail.log").read_text()
        assert log.count("input set aside: channel=email reason=too_deep") == 2
        assert "RecursionError" not in log
    finally:
        await smtp.stop()
        dovecot.stop()


def slack_signed(body: bytes) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (too deep to go through json.dumps)."""
    stamp = str(int(time.time()))
    digest = hmac.new(SIGNING.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/json",
    }


async def test_web_process_refuses_deep_bodies_and_serves_the_next(
    rig_factory,  # type: ignore[no-untyped-def]
) -> None:
    rig: FaultRig = rig_factory(
        settings={
            "SLACK_SIGNING_SECRET": SIGNING,
            "SLACK_BOT_TOKEN": "xoxb-poison",
            "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached: refused before Bolt
            "DEPLOYBOT_WEBHOOK_SECRET": HOOK_SECRET,
        }
    )
    table = webhook_toml("ci", "deploy backend {version} to staging", report_to="slack:C0DEPLOYS")
    rig.bot.config.write_text(rig.bot.config.read_text() + table)
    rig.bot.start_web()
    rig.bot.start_worker()
    deep = b'{"type": "event_callback", "event_id": "Ev1", "event": ' + b"[" * 50_000
    deep += b"]" * 50_000 + b"}"
    async with rig.bot.client() as client:
        await rig.launch(client, "help")  # the web process is up
        slack = await client.post("/slack/events", content=deep, headers=slack_signed(deep))
        assert slack.status_code == 400
        api = await client.post("/v1/threads", content=b"[" * 60_000)
        assert api.status_code == 422
        hook = b'{"version": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), hook, hashlib.sha256).hexdigest()
        webhook = await client.post(
            "/v1/webhooks/ci", content=hook, headers={"X-Deploybot-Signature": signature}
        )
        assert webhook.status_code == 422
        await rig.launch(client, "deploy backend to staging")
        await deploys(rig, 1)
        health = await client.get("/healthz")
        assert health.status_code == 200
        metrics = (await client.get("/metrics")).text
    assert rig.bot.web is not None
    assert rig.bot.web.poll() is None
    for channel in ("slack", "api", "webhook"):
        line = f'deploybot_inputs_set_aside_total{{channel="{channel}",reason="too_deep"}} 1'
        assert line in metrics
    assert sorted(r["channel"] for r in audit(rig)) == ["api", "slack", "webhook"]


async def test_worker_process_dead_letters_entries_that_are_no_event(
    rig_factory,  # type: ignore[no-untyped-def]
) -> None:
    rig: FaultRig = rig_factory()
    rig.bot.start_web()
    worker = rig.bot.start_worker()
    redis = Redis.from_url(rig.redis.url)
    try:
        inbound = f"{rig.bot.prefix}:inbound"
        await redis.xadd(inbound, {"e": b"[" * 100_000})
        await redis.xadd(inbound, {"e": b"\xff\xfe not json"})
        await redis.xadd(inbound, {"nothing": b"here"})
        async with rig.bot.client() as client:
            await rig.launch(client, "deploy backend to staging")
            await deploys(rig, 1)

            async def set_aside() -> bool:
                return int(await redis.xlen(f"{rig.bot.prefix}:dead")) == 3

            await until(set_aside, timeout_s=15, what="3 dead letters")
        assert worker.poll() is None
        reasons = [r["reason"] for r in audit(rig)]
        assert reasons == ["undecodable"] * 3
    finally:
        await redis.aclose()
