"""Release policy through the HTTP API (issue 19.6), in-process on real Redis with a real
worker: typed when_ready / skip_soak / break_glass reach the thread as the words the grammar
reads (and as the chosen intent's fields), bad combinations are 422 with nothing published,
and a queued thread is shown with its wait and can be cancelled (202) until it is not (409),
by its requester or an approver only (anyone else: 403 at once).
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from bot.core.thread.events import IntentChosen, PlanProposed, UserMessage
from bot.core.thread.intents import Deploy
from bot.shell.lock.holder import LockHolder
from tests.integration.channels.api.test_api import TOKEN, Api, web_client
from tests.support import Clock, calls, make_app, write_setup

# Monday 2 Nov 2026, 09:00 UTC; production is frozen 10:00-12:00 UTC.
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PRODUCTION = 'requires = ["staging"]\nsoak_s = 1800\nsoak_override_by = ["alice"]\n'
FREEZE = """
[[freezes]]
name = "change-board"
environments = ["production"]
from = "2026-11-02T10:00Z"
until = "2026-11-02T12:00Z"
reason = "change board review"
break_glass = ["alice"]
"""
PROD = "deploy backend v1.4.2 to production"


@pytest.fixture
async def api(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Api]:
    config = write_setup(tmp_path, production=PRODUCTION, tail=FREEZE)
    clock = Clock(START)
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock)
    async with web_client(app, clock=clock, token=TOKEN, secret=None) as client:
        yield Api(client=client, app=app, base=tmp_path, clock=clock)


async def launch(api: Api, **body: object) -> httpx.Response:
    return await api.client.post("/v1/threads", json={"text": PROD, **body})


async def launched(api: Api, **body: object) -> str:
    got = await launch(api, **body)
    assert got.status_code == 201, got.text
    return str(got.json()["id"])


async def chosen(api: Api, thread_id: str) -> tuple[str, Deploy]:
    """The words the thread got, and the deploy the grammar chose from them."""
    thread = await api.app.context.store.load(thread_id)
    assert thread is not None
    said = thread.events[0]
    assert isinstance(said, UserMessage)
    (choice,) = [e for e in thread.events if isinstance(e, IntentChosen)]
    assert choice.source == "grammar"
    assert isinstance(choice.intent, Deploy)
    return said.text, choice.intent


async def cancel(api: Api, thread_id: str, user: str, **more: str) -> httpx.Response:
    body = {"type": "cancel", "user": user, **more}
    return await api.client.post(f"/v1/threads/{thread_id}/events", json=body)


async def staged(api: Api) -> None:
    """v1.4.2 live (and so soaking) in staging from 09:00."""
    await launched(api, text="deploy backend v1.4.2 to staging", user="carol")
    await api.settle()
    assert [c.split()[1:4] for c in calls(api.base)] == [["backend", "v1.4.2", "staging"]]


async def test_typed_overrides_reach_the_thread_as_the_grammar_read_them(api: Api) -> None:
    await staged(api)
    api.clock.advance(12 * 60)  # 09:12: soaking for 12 of 30 minutes
    ready = await launched(api, user="carol", when_ready=True)
    await api.settle()
    text, intent = await chosen(api, ready)
    assert text == f"{PROD} when ready"
    assert (intent.when_ready, intent.skip_soak, intent.break_glass) == (True, None, None)
    assert await api.status(ready) == "queued"

    skip = await launched(api, user="alice", skip_soak="INC-7  hotfix")
    await api.settle()
    # A later request for the same version, planned, ends the older 'when ready' wait.
    assert await api.status(ready) == "done"

    text, intent = await chosen(api, skip)
    assert text == f"{PROD} skip soak INC-7 hotfix"
    assert (intent.when_ready, intent.skip_soak, intent.break_glass) == (
        False,
        "INC-7 hotfix",
        None,
    )
    view = await api.thread(skip)
    assert view.status == "awaiting_approval"
    assert view.approval is not None
    overrides = view.approval.plan.overrides
    assert [(o.kind, o.person, o.reason) for o in overrides] == [
        ("skip_soak", "alice", "INC-7 hotfix")
    ]

    api.clock.advance(53 * 60)  # 10:05: frozen, and soaked long since
    glass = await launched(api, user="alice", break_glass="INC-9 checkout down")
    await api.settle()
    text, intent = await chosen(api, glass)
    assert text == f"{PROD} break glass INC-9 checkout down"
    assert (intent.when_ready, intent.skip_soak, intent.break_glass) == (
        False,
        None,
        "INC-9 checkout down",
    )
    assert await api.status(glass) == "awaiting_approval"  # approvals still apply
    assert len(calls(api.base)) == 1  # nothing ran without them


BAD_LAUNCHES: list[tuple[dict[str, object], str]] = [
    ({"when_ready": True, "skip_soak": "INC-7"}, "when_ready: goes with neither"),
    ({"text": "please ship backend", "skip_soak": "INC-7"}, "skip_soak: only with a deploy"),
    ({"text": "rollback backend in production", "break_glass": "x"}, "break_glass: only with"),
    ({"text": f"{PROD} when ready", "when_ready": True}, "when_ready: text already ends"),
    ({"text": f"{PROD} skip soak INC-7", "break_glass": "x"}, "break_glass: text already"),
    ({"skip_soak": "not needed"}, "skip_soak: the reason is not plain"),
    ({"skip_soak": "don't wait for staging"}, "Word the reason without them"),
    ({"break_glass": "only if the board agrees"}, "break_glass: the reason is not plain"),
    ({"break_glass": "why?"}, "break_glass: must not contain '?'"),
    ({"skip_soak": "two\nlines"}, "skip_soak: must be one line of printable characters"),
    ({"when_ready": "yes"}, "when_ready: Input should be a valid boolean"),
]


async def test_bad_combinations_are_422_and_nothing_is_published(api: Api, redis: Redis) -> None:
    inbound = api.app.context.keys.inbound()
    for body, error in BAD_LAUNCHES:
        got = await launch(api, user="alice", **body)
        assert got.status_code == 422, (body, got.text)
        assert error in got.json()["error"], (body, got.text)
    assert await redis.xlen(inbound) == 0
    assert await api.app.context.store.recent_ids() == []
    ok = await launch(api, user="alice", skip_soak="INC-7 hotfix")  # the same, said plainly
    assert ok.status_code == 201
    assert await redis.xlen(inbound) == 1


async def test_a_soak_wait_is_shown_and_cancelled_once(api: Api) -> None:
    await staged(api)
    api.clock.advance(12 * 60)
    tid = await launched(api, user="carol", when_ready=True)
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "queued"
    assert view.queue is not None
    assert (view.queue.plan_hash, view.queue.position) == (None, None)
    assert view.queue.retry_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

    named = await cancel(api, tid, "carol", plan_hash="ab" * 8)
    assert named.status_code == 409  # no plan waits in line: there is none to name
    assert "nothing was cancelled" in named.json()["error"]
    got = await cancel(api, tid, "carol")
    assert got.status_code == 202, got.text
    await api.settle()
    view = await api.thread(tid)
    assert (view.status, view.queue) == ("done", None)
    again = await cancel(api, tid, "carol")
    assert again.status_code == 409
    assert "nothing to cancel (status done)" in again.json()["error"]

    api.clock.advance(30 * 60)  # the ready time passes: the cancelled wait plans nothing
    await api.settle()
    thread = await api.app.context.store.load(tid)
    assert thread is not None
    assert not [e for e in thread.events if isinstance(e, PlanProposed)]


async def test_a_plan_in_line_is_cancelled_by_whom_the_loop_allows(api: Api) -> None:
    holder = LockHolder(thread_id="x", who="dave", why="deploy backend v1.4.0", since=START)
    held, _ = await api.app.context.env_lock.acquire(
        service="backend", environment="staging", holder=holder, ttl_ms=600_000
    )
    assert held
    tid = await launched(api, text="deploy backend v1.4.2 to staging", user="carol")
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "queued"
    assert view.queue is not None
    assert view.queue.position == 1
    assert view.queue.behind is not None
    assert "dave" in view.queue.behind
    plan_hash = view.queue.plan_hash
    assert plan_hash is not None

    wrong = await cancel(api, tid, "carol", plan_hash="0" * 16)
    assert wrong.status_code == 409
    assert f"(#{plan_hash[:4]} is)" in wrong.json()["error"]
    stranger = await cancel(api, tid, "mallory", plan_hash=plan_hash)
    assert stranger.status_code == 403

    # bob is in [people] but neither the requester nor an approver of staging: the loop's
    # own rule answers at once, and nothing reaches the thread; nor does his typed cancel.
    events_before = len((await api.thread(tid)).events)
    bob = await cancel(api, tid, "bob", plan_hash=plan_hash)
    assert bob.status_code == 403
    assert "can cancel this" in bob.json()["error"]
    typed = await api.client.post(
        f"/v1/threads/{tid}/events",
        json={"type": "message", "user": "bob", "text": f"cancel {plan_hash[:16]}"},
    )
    assert typed.status_code == 403
    await api.settle()
    view = await api.thread(tid)
    assert view.status == "queued"
    assert len(view.events) == events_before

    carol = await cancel(api, tid, "carol", plan_hash=plan_hash)
    assert carol.status_code == 202
    await api.settle()
    view = await api.thread(tid)
    assert (view.status, view.queue) == ("done", None)
    said = [e for e in view.events if isinstance(e, UserMessage)]
    assert [(e.actor, e.text) for e in said][-1:] == [("api:carol", f"cancel {plan_hash[:16]}")]
    assert not any(e.actor == "api:bob" for e in said)
    assert await api.app.context.line.waiting(service="backend", environment="staging") == []
    assert calls(api.base) == []
