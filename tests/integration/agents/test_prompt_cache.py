"""Prompt caching on the Claude path, with the real SDK against a fake that bills like caching.

The tools and the system prompt are the cached prefix: marked where they end, the same bytes
for every thread (whatever its service, people, id or time), and the usage the API reports
(cache writes, cache reads) reaches the agent's ``Decision`` and ``AgentFailure``.
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import pytest
import pytest_asyncio

from agents.claude_agent import ClaudeAgent, load_prompt
from agents.deploy import DeployAgent
from agents.planner import ClaudePlanner
from agents.rollback import RollbackAgent
from bot.core.config.config import Config, parse_config
from bot.core.ports.agent import AgentFailure, Decision
from bot.core.thread.events import Event, TagsListed, UserMessage
from bot.core.thread.origin import SlackOrigin, TerminalOrigin
from bot.core.thread.plan import Tag
from bot.core.thread.thread import Thread
from tests.integration.agents.caching_api import CachingAnthropic, Recorded, prefix_blocks

MODEL = "claude-sonnet-5-5"
EPHEMERAL = {"type": "ephemeral"}
CONFIG_TOML = """
[people.alice]
slack = "U0ALICE"

[services.backend]
repo = "https://github.com/acme/backend.git"
deploy = ["./deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]

[services.frontend]
repo = "https://github.com/acme/frontend.git"
deploy = ["./deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging"]

[environments.staging]

[environments.production]
approval = true
approvers = ["alice"]
"""

pytestmark = pytest.mark.asyncio(loop_scope="function")


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG_TOML, base_dir=Path("/srv"))


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[CachingAnthropic]:
    async with CachingAnthropic() as server:
        yield server


@pytest_asyncio.fixture
async def client(fake: CachingAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        api_key="test-key", base_url=fake.base_url, max_retries=0
    ) as sdk:
        yield sdk


def agent(
    kind: type[ClaudeAgent], client: anthropic.AsyncAnthropic, config: Config, now: datetime
) -> ClaudeAgent:
    planner = ClaudePlanner(client=client, model=MODEL)
    return kind(planner=planner, config=config, clock=lambda: now)


def thread(thread_id: str, text: str, *, at: datetime, extra: list[Event] | None = None) -> Thread:
    origin = (
        SlackOrigin(channel="C0DEPLOYS", thread_ts="1700000000.000100")
        if thread_id.endswith("slack")
        else TerminalOrigin(session=thread_id)
    )
    user = UserMessage(id=f"{thread_id}-1", at=at, actor="slack:U0ALICE", text=text)
    return Thread(id=thread_id, origin=origin, created_at=at, events=[user, *(extra or [])])


def cached_prefix(request: Recorded) -> str:
    """The blocks up to the last cache breakpoint, as compact JSON in the order sent."""
    blocks = prefix_blocks(request.body)
    last = max(i for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b)
    return json.dumps(
        [request.body["model"], request.body["tool_choice"], *blocks[: last + 1]],
        separators=(",", ":"),
        ensure_ascii=False,
    )


@pytest.mark.parametrize(("kind", "prompt"), [(DeployAgent, "deploy"), (RollbackAgent, "rollback")])
async def test_the_tools_and_the_system_prompt_carry_the_cache_markers(
    fake: CachingAnthropic,
    client: anthropic.AsyncAnthropic,
    config: Config,
    kind: type[ClaudeAgent],
    prompt: str,
) -> None:
    fake.script(("done", {"message": "ok"}))
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

    await agent(kind, client, config, now).decide(thread("t-1", "hello", at=now))

    [request] = fake.requests
    body = request.body
    *first_tools, last_tool = body["tools"]
    assert last_tool["cache_control"] == EPHEMERAL
    assert all("cache_control" not in tool for tool in first_tools)
    assert body["system"] == [
        {"type": "text", "text": load_prompt(prompt), "cache_control": EPHEMERAL}
    ]
    # The thread is one plain user message after the prefix: never cached.
    [message] = body["messages"]
    assert message["role"] == "user"
    assert isinstance(message["content"], str)
    assert "<now>2026-11-02 09:30 UTC</now>" in message["content"]
    assert request.raw.count(b'"cache_control"') == 2


async def test_the_cached_prefix_is_the_same_bytes_for_other_threads_services_and_times(
    fake: CachingAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    first_at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    later = first_at + timedelta(days=3, hours=5)
    tags = TagsListed(
        id="f-2",
        at=later,
        service="frontend",
        tags=[Tag(name="v2.0.1", sha="a" * 40, subject="new header")],
    )
    fake.script(
        ("deploy", {"service": "backend", "environment": "production"}),
        ("deploy", {"service": "frontend", "environment": "staging", "version": "v2.0.1"}),
    )

    # Two agents built at different times (a restart between), two threads on two services.
    one = await agent(DeployAgent, client, config, first_at).decide(
        thread("b-slack", "ship backend to prod please", at=first_at)
    )
    two = await agent(DeployAgent, client, config, later).decide(
        thread("f-terminal", "frontend v2.0.1 to staging", at=later, extra=[tags])
    )

    first, second = fake.requests
    assert cached_prefix(first) == cached_prefix(second)
    assert first.body["messages"] != second.body["messages"]
    prefix = cached_prefix(first)
    for variable in ("2026", "b-slack", "ship backend", "U0ALICE", "alice", "v2.0.1"):
        assert variable not in prefix, variable
    # The API bills it that way: written once, then read; only the thread is full price.
    assert fake.usages[0].cache_creation_input_tokens > 0
    assert fake.usages[1].cache_read_input_tokens == fake.usages[0].cache_creation_input_tokens
    assert fake.usages[1].cache_creation_input_tokens == 0
    assert isinstance(one, Decision)
    assert isinstance(two, Decision)


async def test_the_usage_with_its_cache_fields_reaches_the_decision(
    fake: CachingAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    fake.script(
        ("list_tags", {"service": "backend"}),
        ("deploy", {"service": "backend", "environment": "staging"}),
    )
    deploy = agent(DeployAgent, client, config, now)

    written = await deploy.decide(thread("t-1", "backend to staging", at=now))
    read = await deploy.decide(thread("t-2", "backend to staging, now", at=now))

    billed = fake.usages
    assert isinstance(written, Decision)
    assert isinstance(read, Decision)
    for decision, usage in ((written, billed[0]), (read, billed[1])):
        assert decision.cache_creation_input_tokens == usage.cache_creation_input_tokens
        assert decision.cache_read_input_tokens == usage.cache_read_input_tokens
        assert decision.input_tokens == (
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        )
        assert decision.output_tokens == 17
    assert (written.cache_creation_input_tokens > 0, written.cache_read_input_tokens) == (True, 0)
    assert (read.cache_creation_input_tokens, read.cache_read_input_tokens > 0) == (0, True)


async def test_an_invalid_answer_still_reports_the_cache_fields(
    fake: CachingAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    fake.script(("deploy", {"service": "payments", "environment": "staging"}))

    result = await agent(DeployAgent, client, config, now).decide(thread("t-1", "hi", at=now))

    [usage] = fake.usages
    assert isinstance(result, AgentFailure)
    assert result.kind == "invalid_output"
    assert result.cache_creation_input_tokens == usage.cache_creation_input_tokens > 0
    assert result.cache_read_input_tokens == 0


async def test_below_the_minimum_nothing_is_cached_and_nothing_fails(config: Config) -> None:
    """A prefix shorter than the model's minimum is billed as ordinary input: the markers
    are harmless, the call succeeds, the cache fields say 0."""
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    async with (
        CachingAnthropic(min_tokens=1_000_000) as small,
        anthropic.AsyncAnthropic(api_key="k", base_url=small.base_url, max_retries=0) as sdk,
    ):
        small.script(("done", {"message": "hi"}), ("done", {"message": "hi"}))
        deploy = agent(DeployAgent, sdk, config, now)
        results = [await deploy.decide(thread(f"t-{n}", "hello", at=now)) for n in (1, 2)]

    for result, usage in zip(results, small.usages, strict=True):
        assert isinstance(result, Decision)
        assert (result.cache_read_input_tokens, result.cache_creation_input_tokens) == (0, 0)
        assert result.input_tokens == usage.input_tokens > 0
