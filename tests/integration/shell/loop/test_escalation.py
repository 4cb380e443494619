"""Escalation: a request nobody answers goes to a fallback channel and group, durably.

The timers live in Redis and time is injected: every process "restarts" (a new App on the
same Redis) between the request and the escalation, and the on-call group decides in the
fallback Slack channel through the real Bolt app and slack_sdk against the fake Web API.
"""

import dataclasses
import json
from pathlib import Path

from redis.asyncio import Redis

from tests.integration.channels.slack.test_slack import CHANNEL, REQUEST, ROOT, open_harness
from tests.support import Clock, calls, make_app, say, texts, thread_of, write_setup

ONCALL = "C0ONCALL"
ESCALATION = f"""escalate_to = "slack:{ONCALL}"
escalate_approvers = ["erin"]
escalate_after_s = 300
"""
ERIN = """
[people.erin]
slack = "U0ERIN"
"""


def _config(tmp_path: Path) -> Path:
    return write_setup(tmp_path, approval_timeout_s=1200, production=ESCALATION, tail=ERIN)


async def test_an_unanswered_request_escalates_across_a_restart_and_oncall_decides(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    async with open_harness(redis, key_prefix, tmp_path, config=config) as slack:
        assert await slack.say(REQUEST, user="U0CAROL") == 200
        await slack.pump()
        card = slack.card()
        assert await slack.app.timers.pending() == 3  # reminder, escalation, expiry

        # Erin is not an approver yet.
        assert await slack.click("U0ERIN", card) == 200
        await slack.pump()
        assert slack.ephemeral("U0ERIN") == [
            "erin can't approve deploys to production; approvers: alice, bob, dave."
        ]

        # Every process restarts; five minutes pass with no answer.
        slack.clock.advance(301)
        second = make_app(
            redis, prefix=key_prefix, config_file=config, clock=slack.clock, consumer="w2"
        )
        slack = dataclasses.replace(slack, app=second)
        await second.timers.fire_due(now=slack.clock())
        await slack.pump()
        thread = await slack.thread()
        assert [e.type for e in thread.events].count("approval_escalated") == 1
        note = slack.fake.thread(CHANNEL, ROOT)[-1]["text"]
        assert "Nobody has decided plan #" in note
        assert f"escalating: asking erin in slack:{ONCALL} too" in note
        [escalated] = slack.cards(ONCALL)  # a new card in the on-call channel
        assert "Escalated: no decision yet." in escalated["text"]
        assert "<@U0ERIN>" in json.dumps(escalated["blocks"])
        assert thread.status == "awaiting_approval"

        # A timer fired twice (two pumps) escalates once.
        await second.timers.fire_due(now=slack.clock())
        await slack.pump()
        assert len(slack.cards(ONCALL)) == 1

        assert await slack.click("U0ERIN", escalated) == 200
        await slack.pump()
        assert len(calls(slack.base)) == 1
        for channel, ts in ((CHANNEL, card["ts"]), (ONCALL, escalated["ts"])):
            closed = slack.fake.messages[(channel, ts)]
            assert "deploybot_approve" not in json.dumps(closed)  # both copies are closed
            assert "approved by erin" in json.dumps(closed)
        assert (await slack.thread()).status == "done"
        assert await second.timers.pending() == 0  # the reminder and expiry were cancelled


async def test_escalation_then_expiry_closes_every_copy(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = _config(tmp_path)
    clock = Clock()
    first = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    await say(first, "t1", "slack:U0CAROL", "deploy backend to production", new=True)
    await first.worker.run_until_idle()
    clock.advance(301)
    second = make_app(redis, prefix=key_prefix, config_file=config, clock=clock, consumer="w2")
    await second.worker.run_until_idle()
    clock.advance(900)  # past the 1200 s expiry
    await second.worker.run_until_idle()
    thread = await thread_of(second, "t1")
    asked = [
        e for e in thread.events if e.type == "message_sent" and e.purpose == "approval_request"
    ]
    assert [m.route for m in asked] == [None, f"slack:{ONCALL}"]  # type: ignore[union-attr]
    closing = [e for e in thread.events if e.type == "message_sent" and e.replaces is not None]
    assert {m.replaces for m in closing} == {m.id for m in asked}  # type: ignore[union-attr]
    assert all("expired" in m.text for m in closing)  # type: ignore[union-attr]
    assert thread.status == "done"
    reminders = [t for t in texts(thread) if t.startswith("Reminder")]
    assert len(reminders) == 2  # in the thread and in the on-call channel
    assert calls(tmp_path) == []


async def test_escalation_to_a_group_redraws_the_card_in_place(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    group_only = 'escalate_approvers = ["erin"]\nescalate_after_s = 300\n'
    config = write_setup(tmp_path, approval_timeout_s=1200, production=group_only, tail=ERIN)
    async with open_harness(redis, key_prefix, tmp_path, config=config) as slack:
        await slack.say(REQUEST, user="U0CAROL")
        await slack.pump()
        [card] = slack.cards()
        assert "<@U0ERIN>" not in json.dumps(card["blocks"])
        slack.clock.advance(301)
        await slack.pump()
        assert len(slack.cards()) == 1  # no second card: the first one was redrawn
        redrawn = slack.fake.messages[(CHANNEL, card["ts"])]
        assert "<@U0ERIN>" in json.dumps(redrawn["blocks"])
        assert "deploybot_approve" in json.dumps(redrawn["blocks"])  # still has its buttons
        assert "escalating: asking erin too" in redrawn["text"]
        assert await slack.click("U0ERIN", {**redrawn, "ts": card["ts"]}) == 200
        await slack.pump()
        assert len(calls(slack.base)) == 1
        closed = slack.fake.messages[(CHANNEL, card["ts"])]
        assert "deploybot_approve" not in json.dumps(closed)
        assert "approved by erin" in json.dumps(closed)
