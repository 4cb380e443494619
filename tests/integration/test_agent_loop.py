"""The whole loop with the real deploy agent: worker -> real anthropic SDK -> local fake API."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.bootstrap import App, bootstrap
from bot.events import ErrorRecorded, IntentChosen
from bot.settings import Settings
from tests.fakes.anthropic_api import FakeAnthropic, Overloaded, Text, ToolUse
from tests.support import Clock, calls, say, seq_id, texts, thread_of, write_setup


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def claude_app(redis: Redis, prefix: str, config: Path, fake: FakeAnthropic) -> App:
    settings = Settings(
        deploybot_key_prefix=prefix,
        deploybot_tags_cache_s=0,
        redis_url=None,
        anthropic_api_key="sk-test-key-123456",
        anthropic_base_url=fake.base_url,
    )
    return bootstrap(settings, config_file=config, redis=redis, clock=Clock(), ids=seq_id)


async def test_free_text_to_approval_with_tokens_recorded(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeAnthropic
) -> None:
    config = write_setup(tmp_path)
    app = claude_app(redis, key_prefix, config, fake)
    assert app.model_enabled
    fake.script(
        ToolUse(
            "deploy",
            {"service": "backend", "environment": "production", "version": "v1.4.1"},
            input_tokens=812,
            output_tokens=31,
        )
    )
    await say(
        app,
        "t1",
        "slack:U0CAROL",
        "the search speed-up looks good, can we get it to production?",
        new=True,
    )
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert thread.status == "awaiting_approval"
    chosen = [e for e in thread.events if isinstance(e, IntentChosen)]
    assert (chosen[0].source, chosen[0].input_tokens, chosen[0].output_tokens) == ("model", 812, 31)
    [request] = fake.requests
    prompt = request.body["messages"][0]["content"]
    assert '<tags service="backend">' in prompt  # pre-fetched before the model call
    assert "sk-test-key-123456" not in str(request.body)
    assert request.body["tool_choice"]["type"] == "any"
    assert calls(tmp_path) == []


async def test_a_run_of_529s_tells_the_person_and_deploys_nothing(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeAnthropic
) -> None:
    config = write_setup(tmp_path)
    app = claude_app(redis, key_prefix, config, fake)
    fake.script(Overloaded(), Overloaded(), Overloaded())
    await say(app, "t1", "slack:U0CAROL", "please ship backend to staging", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert len(fake.requests) == 3  # the SDK's own two retries, then we stop
    assert texts(thread) == [
        "I couldn't reach Claude (Claude is overloaded (529) after 3 tries). Nothing was "
        "deployed. Try again in a moment, or use an exact command (type 'help')."
    ]
    assert thread.status == "awaiting_human"
    assert calls(tmp_path) == []
    # An exact command still works while Claude is down.
    await say(app, "t1", "slack:U0CAROL", "deploy backend to staging")
    await app.worker.run_until_idle()
    assert len(calls(tmp_path)) == 1


async def test_invalid_tool_input_is_fed_back_at_most_three_times(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeAnthropic
) -> None:
    config = write_setup(tmp_path)
    app = claude_app(redis, key_prefix, config, fake)
    fake.script(
        ToolUse("deploy", {"service": "payments", "environment": "production"}),
        ToolUse("deploy", {"service": "backend"}),
        Text("I think you want production."),
    )
    await say(app, "t1", "slack:U0CAROL", "ship payments to prod", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert len(fake.requests) == 3
    second = fake.requests[1].body["messages"][0]["content"]
    third = fake.requests[2].body["messages"][0]["content"]
    assert "unknown service 'payments'" in second
    assert "missing field 'environment'" in third
    errors = [e for e in thread.events if isinstance(e, ErrorRecorded)]
    assert [e.kind for e in errors] == ["invalid_output"] * 3
    assert thread.status == "awaiting_human"
    assert "after 3 tries" in texts(thread)[-1]
    assert calls(tmp_path) == []
