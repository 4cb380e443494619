"""An interrupted deploy is announced (bot/shell/deploy/interruption.py), through the real
worker on real Redis: a thread left with ``deploy_started`` and its start announcement, as a
worker killed mid-deploy leaves it, is recovered by the next turn; nothing knows the outcome
(no history line, no status command), so the deploy is held as interrupted, and the
announcement of it is recorded with that and delivered by the outbox, replacing the start's
announcement (on Slack: the same message, edited)."""

from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from bot.core.ports.outbound import OutboundMessage
from bot.core.release.announcements import announce
from bot.core.thread.events import (
    DeployInterrupted,
    DeployStarted,
    MessageSent,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from tests.support import calls, make_app, say, thread_of, write_setup

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Recorder:
    """A Slack deliverer stand-in that keeps what the outbox hands it."""

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


async def test_an_interrupted_deploy_is_announced_in_place(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path, tail='[environments.qa]\nannounce = "slack:C0RELEASES"\n')
    config.write_text(
        config.read_text().replace(
            'environments = ["staging", "production"]',
            'environments = ["staging", "production", "qa"]',
            1,
        )
    )
    app = make_app(redis, prefix=key_prefix, config_file=config)
    cfg = app.context.config
    plan = Plan(
        kind="deploy",
        service="backend",
        environment="qa",
        version="v1.4.2",
        sha="a" * 40,
        requester="carol",
    )
    start = DeployStarted(
        id="s1", at=NOW, plan_hash=plan.plan_hash, idempotency_key="k", fencing_token=7
    )
    thread = Thread(
        id="t",
        origin=ApiOrigin(),
        created_at=NOW,
        events=[
            UserMessage(id="u1", at=NOW, actor="slack:U0CAROL", text="deploy backend to qa"),
            PlanProposed(id="p1", at=NOW, plan=plan),
        ],
    )
    ids = iter(f"a{i}" for i in range(10))
    [first] = announce(
        thread, config=cfg, plan=plan, moment="started", now=NOW, new_id=lambda: next(ids)
    )
    thread.events += [start, first]
    await app.context.store.save(thread)

    await say(app, "t", "slack:U0CAROL", "status")  # the next turn finds it unfinished
    await app.worker.run_until_idle()

    thread = await thread_of(app, "t")
    assert calls(tmp_path) == []  # never run again
    [interrupted] = [e for e in thread.events if isinstance(e, DeployInterrupted)]
    after = thread.events[thread.events.index(interrupted) :]
    [told] = [e for e in after if isinstance(e, MessageSent) and e.route is not None]
    assert (told.route, told.replaces) == ("slack:C0RELEASES", first.id)
    assert told.text.startswith(
        "Deploy of backend v1.4.2 (aaaaaaa) to qa: outcome unknown at 09:00 UTC. It is not run "
        "again on its own; check qa.\nAsked by carol."
    )
    recorder = Recorder()
    await app.context.outbox.ensure_group("slack")
    await app.context.outbox.deliver_some(
        channel="slack", sender=recorder, consumer="t", block_ms=None
    )
    [sent] = [m for m in recorder.sent if m.route == "slack:C0RELEASES"]
    assert (sent.message_id, sent.replaces, sent.text) == (told.id, first.id, told.text)
