"""Redis round trips per turn (issue 18, item 5), counted through the real worker entry on a
real Redis: a launch turn (prefetch, the agent's intent, a plan, an approval request) takes at
most 4; an approve+deploy turn (approval, the lock and the pair read under it, write-ahead
``deploy_started``, the command, ``deploy_finished``, the history and the lock released) at
most 8.

A round trip is one ``send_packed_command`` on a connection of the worker's client (the bot's
own: ``QuickSend`` connections from ``quick_pool``, each write counted once), made
while ``EntryHandler.handle`` handles the entry (a context variable marks the entry's task
and the tasks it starts). A warm-up thread first fills what a running worker has warm (the
tags cache, the intact mark); the counts are of the turns after it. A count, never a timing.
"""

import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App, bootstrap
from bot.app.settings import Settings
from bot.core.ports.agent import Agent
from bot.core.thread.intents import Deploy
from bot.shell.loop.entry import EntryHandler
from bot.shell.store.pool import quick_pool
from bot.shell.streams.inbound import Delivery
from tests.conftest import TEST_REDIS_URL
from tests.support import (
    Clock,
    ScriptedAgent,
    calls,
    count_round_trips,
    say,
    seq_id,
    thread_of,
    write_setup,
)

_counting: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "counting", default=None
)


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Round trips per thread id, of every entry handled while the test runs."""
    per_thread: dict[str, list[int]] = {}
    handle = EntryHandler.handle
    count_round_trips(monkeypatch, into=_counting.get)

    async def counted_handle(self: EntryHandler, delivery: Delivery) -> None:
        counter = [0]
        token = _counting.set(counter)
        try:
            await handle(self, delivery)
        finally:
            _counting.reset(token)
            assert delivery.envelope is not None
            per_thread.setdefault(delivery.envelope.thread_id, []).append(counter[0])

    monkeypatch.setattr(EntryHandler, "handle", counted_handle)
    return per_thread


@pytest.fixture
async def worker_redis() -> AsyncIterator[Redis]:
    """The worker's own client, built as the bot builds it (``quick_pool``; the test's reads
    go through the ``redis`` fixture's)."""
    client = Redis(connection_pool=quick_pool(TEST_REDIS_URL, max_connections=100))
    yield client
    await client.aclose()


def cached_app(worker_redis: Redis, prefix: str, config: Path, agent: ScriptedAgent) -> App:
    """The app as the benchmark runs it: tags cached, a lease longer than the turn (no
    heartbeat renewal inside it)."""
    settings = Settings(
        deploybot_key_prefix=prefix,
        deploybot_tags_cache_s=60,
        deploybot_lease_ttl_ms=60_000,
        anthropic_api_key=None,
        redis_url=None,
    )
    return bootstrap(
        settings,
        config_file=config,
        redis=worker_redis,
        consumer="w1",
        agents={"deploy": cast(Agent, agent), "rollback": cast(Agent, agent)},
        clock=Clock(),
        ids=seq_id,
    )


async def turn(app: App, say_it: Callable[[], Awaitable[str]]) -> None:
    await say_it()
    await app.worker.run_until_idle()


async def test_a_launch_takes_4_round_trips_and_an_approved_deploy_8(
    redis: Redis,
    worker_redis: Redis,
    key_prefix: str,
    tmp_path: Path,
    trips: dict[str, list[int]],
) -> None:
    config = write_setup(tmp_path)
    agent = ScriptedAgent(
        [
            Deploy(service="frontend", environment="production"),
            Deploy(service="backend", environment="production"),
        ]
    )
    app = cached_app(worker_redis, key_prefix, config, agent)
    # Warm-up: no service named, so both services' tags are prefetched (and cached); its
    # deploy makes the worker learn the intact mark.
    await turn(app, lambda: say(app, "w", "slack:U0CAROL", "please ship it", new=True))
    await turn(app, lambda: say(app, "w", "slack:U0ALICE", "approve"))
    assert (await thread_of(app, "w")).status == "done"

    await turn(
        app, lambda: say(app, "t", "slack:U0CAROL", "please ship backend to production", new=True)
    )
    assert (await thread_of(app, "t")).status == "awaiting_approval"
    await turn(app, lambda: say(app, "t", "slack:U0ALICE", "approve"))
    thread = await thread_of(app, "t")
    assert thread.status == "done"
    assert [line.split()[1:4] for line in calls(tmp_path)] == [
        ["frontend", "v2.0.0", "production"],
        ["backend", "v1.4.2", "production"],
    ]
    launch, deploy = trips["t"]
    assert 0 < launch <= 4, f"a launch took {launch} round trips"
    assert 0 < deploy <= 8, f"an approve+deploy took {deploy} round trips"
