"""The outbox delivers the approval card a message carries, as the core recorded it, and
never rebuilds it from the thread; a thread stored before cards were recorded delivers the
cards its requests showed (real Redis, the real store and outbox)."""

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

from redis.asyncio import Redis

from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.approval_card import ApprovalCard
from bot.core.thread.events import MessageSent
from bot.core.thread.origin import SlackOrigin
from bot.core.thread.plan import Plan
from bot.core.thread.thread import Thread
from bot.shell.store.codec import decode_thread
from bot.shell.store.keys import Keys
from bot.shell.streams.outbox import Outbox

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parents[3] / "unit" / "golden" / "thread_open_card.b64"
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    previous_version="v1.4.1",
    requester="carol",
)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> None:
        self.sent.append(message)


async def delivered(redis: Redis, keys: Keys, thread: Thread) -> list[OutboundMessage]:
    outbox = Outbox(redis=redis, keys=keys)
    await outbox.ensure_group("slack")
    await outbox.enqueue(thread, await outbox.undelivered(thread))
    recorder = Recorder()
    await outbox.deliver_some(channel="slack", sender=recorder, consumer="c", block_ms=None)
    return recorder.sent


async def test_the_card_goes_out_as_recorded_without_the_thread(
    redis: Redis, key_prefix: str
) -> None:
    card = ApprovalCard(
        plan=PLAN,
        plan_hash=PLAN.plan_hash,
        approvers=["alice"],
        min_approvals=1,
        expires_at=AT + timedelta(hours=1),
    )
    # No plan and no request in the thread: nothing to rebuild a card from.
    asked = MessageSent(id="m1", at=AT, text="Plan ...", purpose="approval_request", card=card)
    thread = Thread(
        id="t-out", origin=SlackOrigin(channel="C1", thread_ts="1.1"), created_at=AT, events=[asked]
    )
    [sent] = await delivered(redis, Keys(key_prefix), thread)
    assert sent.card == card


async def test_a_thread_stored_by_older_code_delivers_its_pending_card(
    redis: Redis, key_prefix: str
) -> None:
    thread = decode_thread(base64.b64decode(GOLDEN.read_text()), version=1)
    sent = await delivered(redis, Keys(key_prefix), thread)
    in_slack = [m for m in sent if m.route is None]  # the email copy goes to the email outbox
    assert [m.message_id for m in in_slack] == ["old1", "old4"]
    first, escalated = (m.card for m in in_slack)
    assert first is not None
    assert escalated is not None
    assert first.plan.version == "v1.4.2"
    assert first.evidence is not None
    assert first.evidence.commits[0].subject == "fix login timeout"
    assert (first.approvers, escalated.approvers) == (["alice", "bob"], ["alice", "bob", "erin"])
