"""The usage the API reports, cache reads and writes included, reaches the recorded events:
the worker's loop with the real deploy agent, the real SDK and the caching fake."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App, bootstrap
from bot.app.settings import Settings
from bot.core.thread.events import ErrorRecorded, IntentChosen
from tests.integration.agents.caching_api import CachingAnthropic
from tests.support import Clock, say, seq_id, thread_of, write_setup


@pytest.fixture
async def fake() -> AsyncIterator[CachingAnthropic]:
    async with CachingAnthropic() as server:
        yield server


def claude_app(redis: Redis, prefix: str, config: Path, fake: CachingAnthropic) -> App:
    settings = Settings(
        deploybot_key_prefix=prefix,
        deploybot_tags_cache_s=0,
        redis_url=None,
        anthropic_api_key="sk-test-key-123456",
        anthropic_base_url=fake.base_url,
    )
    return bootstrap(settings, config_file=config, redis=redis, clock=Clock(), ids=seq_id)


async def test_cache_writes_and_reads_are_recorded_on_the_events(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: CachingAnthropic
) -> None:
    app = claude_app(redis, key_prefix, write_setup(tmp_path), fake)
    fake.script(
        ("deploy", {"service": "backend", "environment": "production", "version": "v1.4.1"}),
        ("deploy", {"service": "payments", "environment": "staging"}),  # invalid: an error
    )
    await say(app, "t1", "slack:U0CAROL", "can we get the search fix to production?", new=True)
    await app.worker.run_until_idle()
    await say(app, "t2", "slack:U0CAROL", "and the payments thing to staging?", new=True)
    await app.worker.run_until_idle()

    [chosen] = [e for e in (await thread_of(app, "t1")).events if isinstance(e, IntentChosen)]
    failed = next(e for e in (await thread_of(app, "t2")).events if isinstance(e, ErrorRecorded))
    written, read = fake.usages[0], fake.usages[1]
    assert written.cache_creation_input_tokens > 0
    assert (chosen.cache_creation_input_tokens, chosen.cache_read_input_tokens) == (
        written.cache_creation_input_tokens,
        0,
    )
    assert chosen.input_tokens == written.input_tokens + written.cache_creation_input_tokens
    # Another thread on another service: the same prefix, read from the cache.
    assert failed.kind == "invalid_output"
    assert (failed.cache_creation_input_tokens, failed.cache_read_input_tokens) == (
        0,
        read.cache_read_input_tokens,
    )
    assert read.cache_read_input_tokens == written.cache_creation_input_tokens
