"""The App Home through the real Bolt app: signed ``app_home_opened`` events and Home-tab
clicks posted over HTTP, ``views.publish`` answered by the fake Web API (which refuses what
Slack refuses and rate-limits), on real Redis, git and deploy scripts."""

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.app.channels import home_ports
from bot.app.webapp import build_web_app
from bot.core.thread.plan import Quarantined
from bot.shell.lock.holder import LockHolder
from channels.slack import (
    HomePublisher,
    HomeRefresher,
    slack_home,
    slack_listeners,
    slack_routes,
    slack_sender,
)
from channels.terminal import TerminalChannel
from tests.fakes.slack_api import FakeSlack, SlackPoster, home_click, home_opened
from tests.harness import until
from tests.integration.channels.slack.test_slack import CHANNEL, ROOT, SECRET, Harness, serving
from tests.support import Clock, calls, make_app, write_setup

REQUEST = "<@U0BOT> deploy backend v1.4.2 to production"


class Monotonic:
    """The refresher's clock, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


@dataclass
class Home:
    slack: Harness
    publisher: HomePublisher
    refresher: HomeRefresher
    mono: Monotonic
    _clicks: int = 0

    @property
    def fake(self) -> FakeSlack:
        return self.slack.fake

    async def open(self, user: str, *, tab: str = "home") -> int:
        self._clicks += 1
        body = home_opened(user, event_id=f"EvHome{self._clicks}", tab=tab)
        status, _ = await self.slack.post.event(body)
        return status

    def shown(self, user: str) -> str:
        return json.dumps(self.fake.homes[user], ensure_ascii=False)

    def buttons(self, user: str) -> list[tuple[str, str]]:
        return [
            (e["action_id"], e["value"])
            for b in self.fake.homes[user]["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        ]

    async def click(self, user: str, value: str, action: str = "deploybot_approve") -> int:
        self._clicks += 1
        payload = home_click(action, value, user=user, action_ts=f"1700000600.{self._clicks:06d}")
        status, _ = await self.slack.post.interactive(payload)
        return status

    def published(self, *, ok_only: bool = True) -> list[Any]:
        return self.fake.called("views.publish", ok_only=ok_only)


@contextlib.asynccontextmanager
async def open_home(
    redis: Redis, key_prefix: str, tmp_path: Path, *, self_approval: bool = False
) -> AsyncIterator[Home]:
    """The Slack harness of test_slack.py, with the App Home wired as ``bot.app`` wires it."""
    clock = Clock()
    config = write_setup(tmp_path, self_approval=self_approval)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    async with FakeSlack() as fake:
        publisher = slack_home(
            bot_token=fake.token,
            api_url=fake.base_url,
            ports=home_ports(app),
            config=app.context.config,
            clock=clock,
        )
        listeners = slack_listeners(
            bot_token=fake.token,
            signing_secret=SECRET,
            api_url=fake.base_url,
            ports=app.ports,
            clock=clock,
            home=publisher,
        )
        sender = slack_sender(
            bot_token=fake.token,
            api_url=fake.base_url,
            state=app.ports.slack,
            config=app.context.config,
        )
        mono = Monotonic()
        refresher = HomeRefresher(
            publisher=publisher, changes=publisher.changes, clock_s=mono, idle_s=0
        )
        web = build_web_app(app, routes=slack_routes(listeners))
        async with serving(web) as url, SlackPoster(f"{url}/slack/events", SECRET) as post:
            harness = Harness(app, fake, listeners, sender, post, tmp_path, clock)
            yield Home(harness, publisher, refresher, mono)
        await publisher.close()


@pytest.fixture
async def home(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Home]:
    async with open_home(redis, key_prefix, tmp_path) as opened:
        yield opened


async def test_the_home_shows_what_is_live_held_quarantined_and_waiting(home: Home) -> None:
    slack = home.slack
    await slack.say("<@U0BOT> deploy backend v1.4.1 to staging", user="U0CAROL")
    await slack.pump()
    await slack.say(REQUEST, user="U0CAROL", ts="1700000002.000001")
    await slack.say("<@U0BOT> lock staging release day", user="U0ALICE", ts="1700000003.000001")
    await slack.pump()
    assert len(calls(slack.base)) == 1  # staging deployed; production waits for approval
    context = slack.app.context
    entry = Quarantined(version="v1.4.0", sha="f" * 40, by="verification", reason="5xx", at="x")
    await context.quarantine.add(service="backend", environment="production", entry=entry)
    holder = LockHolder(
        thread_id="t-x", who="dave", why="deploy frontend v2.0.0", since=slack.clock()
    )
    assert (
        await context.env_lock.acquire(
            service="frontend", environment="production", holder=holder, ttl_ms=60_000
        )
    )[0]

    assert await home.open("U0BOB") == 200

    [call] = home.published()
    assert call.args["user_id"] == "U0BOB"
    shown = home.shown("U0BOB")
    for part in (
        "`v1.4.1` since 09:00 UTC, by <@U0CAROL>",  # live in staging
        ":lock: locked by <@U0ALICE> (release day) since 09:00 UTC",
        ":no_entry_sign: quarantined: `v1.4.0`",
        ":arrows_counterclockwise: deploy frontend v2.0.0 for dave since 09:00 UTC",
        "*Waiting for your approval* (1)",
        "*Deploy backend v1.4.2 to production*",
    ):
        assert part in shown
    waiting = await slack.thread("1700000002.000001")
    open_approval = waiting.open_approval()
    assert open_approval is not None
    value = f"{waiting.id}:{open_approval.plan.plan_hash}"
    assert home.buttons("U0BOB") == [("deploybot_approve", value), ("deploybot_reject", value)]
    # The card in the channel carries the very same buttons.
    card = slack.card()
    assert value in json.dumps(card["blocks"])


async def test_a_click_on_the_home_approves_as_the_card_does(home: Home) -> None:
    slack = home.slack
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    await home.open("U0BOB")
    [(_, value), _] = home.buttons("U0BOB")

    assert await home.click("U0BOB", value) == 200
    await slack.pump()
    thread = await slack.thread()
    [line] = calls(slack.base)
    assert line.endswith(f"{thread.id}:{value.partition(':')[2]}")  # its idempotency key
    assert thread.status == "done"
    decided = [e for e in thread.events if e.type == "approval_decided"]
    assert [(e.person, e.decision, e.plan_hash) for e in decided] == [  # type: ignore[union-attr]
        ("bob", "approve", value.partition(":")[2])
    ]
    card = slack.fake.messages[(CHANNEL, slack.card()["ts"])]
    assert "deploybot_approve" not in json.dumps(card)  # the card shows the decision
    assert "approved by bob" in json.dumps(card)

    assert await home.click("U0BOB", value) == 200  # a second click changes nothing
    await slack.pump()
    assert len(calls(slack.base)) == 1


async def test_the_requester_without_self_approval_sees_no_buttons(home: Home) -> None:
    slack = home.slack
    await slack.say(REQUEST, user="U0ALICE")  # alice approves production, but not her own
    await slack.pump()
    await home.open("U0ALICE")
    await home.open("U0BOB")
    assert home.buttons("U0ALICE") == []
    shown = home.shown("U0ALICE")
    assert "*Your requests*" in shown
    assert "waiting for <@U0BOB>, dave" in shown
    assert "Waiting for your approval" not in shown
    # The buttons bob got do not work for her: policy decides the click, not the view.
    [(_, value), _] = home.buttons("U0BOB")
    assert await home.click("U0ALICE", value) == 200
    await slack.pump()
    assert calls(slack.base) == []
    assert "alice asked for this deploy" in slack.ephemeral("U0ALICE")[0]


async def test_with_self_approval_the_requester_gets_the_buttons(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    async with open_home(redis, key_prefix, tmp_path, self_approval=True) as home:
        await home.slack.say(REQUEST, user="U0ALICE")
        await home.slack.pump()
        await home.open("U0ALICE")
        assert [a for a, _ in home.buttons("U0ALICE")] == ["deploybot_approve", "deploybot_reject"]


async def test_a_click_on_a_stale_plan_decides_nothing(home: Home) -> None:
    slack = home.slack
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    await home.open("U0BOB")
    [(_, stale), _] = home.buttons("U0BOB")
    await slack.say(
        "<@U0BOT> deploy backend v1.4.1 to production",
        user="U0CAROL",
        ts="1700000003.000001",
        thread_ts=ROOT,
    )
    await slack.pump()

    assert await home.click("U0BOB", stale) == 200
    await slack.pump()
    assert calls(slack.base) == []
    thread = await slack.thread()
    open_approval = thread.open_approval()
    assert open_approval is not None
    assert open_approval.plan.version == "v1.4.1"
    assert open_approval.approved_by == []
    assert "superseded by" in slack.ephemeral("U0BOB")[-1]


async def test_someone_not_in_people_is_told_and_not_refreshed(home: Home) -> None:
    assert await home.open("U0MALLORY") == 200
    assert "not in deploybot's list of people" in home.shown("U0MALLORY")
    assert await home.open("U0BOB", tab="messages") == 200  # another tab: nothing to publish
    assert "U0BOB" not in home.fake.homes
    await home.refresher.step(wait_s=0)  # starts watching
    await home.slack.say(REQUEST, user="U0CAROL")
    await home.slack.pump()
    assert await home.refresher.step(wait_s=0) is None  # a change: a round settles first
    home.mono.now_s += 1
    assert await home.refresher.step(wait_s=0) == 0  # a round, for nobody
    assert len(home.published()) == 1


async def test_refresh_is_debounced(home: Home) -> None:
    slack = home.slack
    await home.open("U0BOB")
    assert await home.refresher.step(wait_s=0) is None  # starts watching; nothing changed
    first = home.shown("U0BOB")

    # A burst: three lock changes and a request, each told in its thread.
    for i, text in enumerate(["lock staging a", "unlock staging", "lock staging b", REQUEST]):
        await slack.say(f"<@U0BOT> {text}", user="U0ALICE", ts=f"17000001{i:02d}.000001")
        await slack.pump()
    assert await home.refresher.step(wait_s=0) is None  # it settles first
    home.mono.now_s += 1
    assert await home.refresher.step(wait_s=0) == 1  # one round, one publish
    shown = home.shown("U0BOB")
    assert shown != first
    assert "(b) since" in shown
    assert "*Waiting for your approval* (1)" in shown

    # A change right after: the next round waits for the interval (5 s after the last).
    await slack.say("<@U0BOT> unlock staging", user="U0ALICE", ts="1700000200.000001")
    await slack.pump()
    home.mono.now_s += 1
    assert await home.refresher.step(wait_s=0) is None
    home.mono.now_s += 3
    assert await home.refresher.step(wait_s=0) is None
    home.mono.now_s += 1
    assert await home.refresher.step(wait_s=0) == 1
    assert ":lock:" not in home.shown("U0BOB")

    # Nothing changed: no round; a round that renders the same view publishes nothing.
    home.mono.now_s += 60
    assert await home.refresher.step(wait_s=0) is None
    assert await home.publisher.refresh() == 0
    assert len(home.published()) == 3  # the open and two rounds, for five changes


async def test_a_rate_limit_stops_the_round_until_slack_says(home: Home) -> None:
    slack = home.slack
    await home.open("U0BOB")
    await home.open("U0ALICE")
    await home.refresher.step(wait_s=0)
    home.fake.publish_limit = 2  # both opens used it up
    await slack.say(REQUEST, user="U0CAROL")
    await slack.pump()
    assert await home.refresher.step(wait_s=0) is None
    home.mono.now_s += 1

    assert await home.refresher.step(wait_s=0) == 0
    [limited] = [c for c in home.published(ok_only=False) if c.status == 429]
    due_s = home.refresher.debounce.due_s
    assert due_s is not None
    assert due_s - home.mono.now_s > 1  # Slack's Retry-After, not at once
    assert await home.refresher.step(wait_s=0) is None  # waiting it out

    home.fake.publish_limit = 100
    home.mono.now_s = due_s
    assert await home.refresher.step(wait_s=0) == 2  # nobody was marked shown by the 429
    assert "Waiting for your approval" in home.shown("U0BOB")
    assert limited.args["user_id"] in ("U0ALICE", "U0BOB")


async def test_the_refresher_runs_beside_the_deliverer_until_stopped(home: Home) -> None:
    """The loop as the worker runs it: blocked in the outboxes, woken by a change."""
    slack = home.slack
    await home.open("U0BOB")
    await home.publisher.changes.wait(timeout_s=0)  # watching from here
    refresher = HomeRefresher(
        publisher=home.publisher, changes=home.publisher.changes, settle_s=0.05, idle_s=0.2
    )
    stop = asyncio.Event()
    running = asyncio.create_task(refresher.run(stop))
    try:
        await slack.say(REQUEST, user="U0CAROL")
        await slack.pump()
        await until(lambda: len(home.published()) == 2, "the home republished", timeout_s=10)
        assert "Waiting for your approval" in home.shown("U0BOB")
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)


async def test_a_change_made_in_a_terminal_session_refreshes_the_open_homes(home: Home) -> None:
    """``deploybot chat`` on the same Redis: its replies go to its own session's stream,
    which nobody else can name in advance, yet the lock it takes reaches every open home."""
    slack = home.slack
    await home.open("U0BOB")
    assert await home.refresher.step(wait_s=0) is None  # starts watching; nothing changed
    out = io.StringIO()
    terminal = TerminalChannel(
        config=slack.app.context.config,
        ports=slack.app.ports,
        worker=slack.app.worker,
        user="alice",
        out=out,
        clock=slack.clock,
        new_id=lambda: "chat-session-1",
        echo=False,
    )

    await terminal.run(["lock staging release day"])

    assert "locked" in out.getvalue()  # the session was answered on its own stream
    assert await home.refresher.step(wait_s=0) is None  # it settles first
    home.mono.now_s += 1
    assert await home.refresher.step(wait_s=0) == 1
    assert ":lock: locked by" in home.shown("U0BOB")
    assert "(release day)" in home.shown("U0BOB")
