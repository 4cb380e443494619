"""The whole loop with the real deploy agent: worker -> real anthropic SDK -> local fake API."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App, bootstrap
from bot.app.settings import Settings
from bot.core.thread.events import ErrorRecorded, IntentChosen
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


# -- issue 10.6: a model that keeps looking things up -------------------------------------


async def test_a_model_that_relists_what_it_has_is_stopped_after_three_tries(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeAnthropic
) -> None:
    """The tags are pre-fetched; listing them again is no step forward: fed back as an
    error, and after three such tries the person is asked in words. 3 model calls, not 15."""
    config = write_setup(tmp_path)
    app = claude_app(redis, key_prefix, config, fake)
    fake.script(*[ToolUse("list_tags", {"service": "backend"}) for _ in range(10)])
    await say(app, "t1", "slack:U0CAROL", "what could we ship of backend?", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert len(fake.requests) == 3
    errors = [e for e in thread.events if isinstance(e, ErrorRecorded)]
    assert [e.kind for e in errors] == ["invalid_intent"] * 3
    assert "already listed above" in errors[0].message
    # The next request sees why its last choice was refused.
    assert "already listed above" in fake.requests[1].body["messages"][0]["content"]
    assert thread.status == "awaiting_human"
    assert texts(thread)[-1].startswith("I couldn't work out a valid next step after 3 tries")
    assert calls(tmp_path) == []


async def test_a_message_gets_at_most_the_model_call_budget_then_a_command_to_type(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeAnthropic
) -> None:
    """Each lookup is new (so never 'already listed'), but the message's budget of model
    calls (DEPLOYBOT_MODEL_CALLS_PER_MESSAGE, default 6) still runs out: the person is told,
    with the exact commands that would do it."""
    config = write_setup(tmp_path)
    app = claude_app(redis, key_prefix, config, fake)
    lookups = [
        ToolUse("list_deploys", {"service": service, "environment": env})
        for service in ("backend", "frontend")
        for env in ("staging", "production")
    ] + [ToolUse("list_tags", {"service": "frontend"})] * 2
    fake.script(*lookups, *[ToolUse("list_tags", {"service": "frontend"})] * 10)
    await say(app, "t1", "slack:U0CAROL", "hmm, backend, what is going on?", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t1")
    assert len(fake.requests) == 6
    assert thread.status == "awaiting_human"
    said = texts(thread)[-1]
    assert said.startswith("I couldn't work out what to do with that, so I stopped")
    assert "'deploy backend to staging'" in said
    assert calls(tmp_path) == []
