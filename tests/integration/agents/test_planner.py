"""The agents and the planner with the real anthropic SDK against a local fake Messages API."""

import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anthropic
import pytest
import pytest_asyncio

from agents.claude_agent import load_prompt
from agents.deploy import DeployAgent
from agents.fallback import CommandsOnlyAgent
from agents.planner import ClaudePlanner
from agents.render import thread_to_prompt
from agents.rollback import RollbackAgent
from agents.toolset import build_tools
from bot.core.config.config import Config, parse_config
from bot.core.ports.agent import AgentFailure, Decision
from bot.core.thread.events import UserMessage
from bot.core.thread.intents import AskHuman, Deploy, Rollback
from bot.core.thread.origin import TerminalOrigin
from bot.core.thread.thread import Thread
from tests.fakes.anthropic_api import (
    ApiError,
    FakeAnthropic,
    Overloaded,
    RateLimited,
    Slow,
    Text,
    ToolUse,
)

MODEL = "claude-sonnet-5-5"
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
SECRET = "s3cr3t-deploy-key-42"

CONFIG_TOML = """
[people.alice]
slack = "U0ALICE"

[people.bob]
email = "bob@example.com"

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
approvers = ["alice", "bob"]
"""


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG_TOML, base_dir=Path("/srv"))


# One fake server for the module (starting and stopping uvicorn costs ~0.2 s), reset per test.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


@pytest_asyncio.fixture(loop_scope="module")
async def client(fake: FakeAnthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        api_key="test-key", base_url=fake.base_url, max_retries=2
    ) as sdk:
        yield sdk


def make_thread(text: str = f"deploy backend to prod, key {SECRET}") -> Thread:
    return Thread(
        id="t-1",
        origin=TerminalOrigin(session="t"),
        created_at=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
        events=[
            UserMessage(
                id="e1",
                at=datetime(2025, 3, 4, 9, 1, tzinfo=UTC),
                actor="terminal:alice",
                text=text,
            )
        ],
    )


def deploy_agent(client: anthropic.AsyncAnthropic, config: Config) -> DeployAgent:
    planner = ClaudePlanner(client=client, model=MODEL)
    return DeployAgent(planner=planner, config=config, secrets=[SECRET], clock=lambda: NOW)


DEPLOY_TOOL = {
    "name": "deploy",
    "description": (
        "Propose deploying a version (a tag) of a service to an environment.\n\n"
        "Leave `version` empty for the newest tag. Approval policy is applied by the bot."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "service": {
                "type": "string",
                "enum": ["backend", "frontend"],
                "description": "A service from <config>.",
            },
            "environment": {
                "type": "string",
                "enum": ["staging", "production"],
                "description": "One of the service's environments, from <config>.",
            },
            "version": {
                "type": "string",
                "description": (
                    "A release tag from <tags>, exactly as listed (e.g. v1.4.2). "
                    "Omit for the newest tag."
                ),
            },
        },
        "required": ["service", "environment"],
        "additionalProperties": False,
    },
    "strict": True,
}


async def test_exact_request_and_decision(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    fake.script(
        ToolUse(
            "deploy",
            {"service": "backend", "environment": "production", "version": "v1.4.2"},
            input_tokens=1234,
            output_tokens=56,
        )
    )
    thread = make_thread()

    decision = await deploy_agent(client, config).decide(thread)

    assert decision == Decision(
        intent=Deploy(service="backend", environment="production", version="v1.4.2"),
        model=MODEL,
        input_tokens=1234,
        output_tokens=56,
    )
    [request] = fake.requests
    assert request.path == "/v1/messages"
    prompt = thread_to_prompt(thread, config=config, now=NOW, secrets=[SECRET])
    *tools_before, last_tool = build_tools(DeployAgent.allowed, config=config)
    cached = {"type": "ephemeral"}  # prompt caching: tools, then system (tests: test_prompt_cache)
    assert request.body == {
        "model": MODEL,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": load_prompt("deploy"), "cache_control": cached}],
        "messages": [{"role": "user", "content": prompt}],
        "tools": [*tools_before, {**last_tool, "cache_control": cached}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    }
    tools = request.body["tools"]
    assert [t["name"] for t in tools] == [
        "list_tags",
        "list_deploys",
        "deploy",
        "ask_human",
        "done",
    ]
    assert tools[2] == DEPLOY_TOOL
    assert all(t["strict"] is True for t in tools)
    assert all(t["input_schema"]["additionalProperties"] is False for t in tools)
    assert "intent" not in str([t["input_schema"] for t in tools])
    assert SECRET not in str(request.body)
    assert "[REDACTED]" in prompt
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["anthropic-version"] == "2026-10-21"  # what SDK 2.12 sends
    assert request.headers["content-type"] == "application/json"


async def test_rollback_agent_uses_its_own_prompt_and_tools(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    fake.script(ToolUse("rollback", {"service": "backend", "environment": "production"}))
    planner = ClaudePlanner(client=client, model=MODEL, max_tokens=512)
    agent = RollbackAgent(planner=planner, config=config, clock=lambda: NOW)

    decision = await agent.decide(make_thread("roll back backend in prod"))

    assert isinstance(decision, Decision)
    assert decision.intent == Rollback(service="backend", environment="production")
    body = fake.requests[0].body
    assert [block["text"] for block in body["system"]] == [load_prompt("rollback")]
    assert body["max_tokens"] == 512
    assert [t["name"] for t in body["tools"]] == ["list_deploys", "rollback", "ask_human", "done"]


async def test_overloaded_past_the_retries_is_model_unavailable(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    fake.script(*(Overloaded() for _ in range(4)))

    result = await deploy_agent(client, config).decide(make_thread())

    assert result == AgentFailure(
        kind="model_unavailable", message="Claude is overloaded (529) after 3 tries", model=MODEL
    )
    assert len(fake.requests) == 3  # max_retries + 1
    assert fake.pending == 1
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


async def test_rate_limited_then_success(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    fake.script(RateLimited(), ToolUse("list_tags", {"service": "backend"}))

    result = await deploy_agent(client, config).decide(make_thread())

    assert isinstance(result, Decision)
    assert result.intent.intent == "list_tags"
    assert len(fake.requests) == 2
    assert fake.requests[0].body == fake.requests[1].body


@pytest.mark.parametrize(
    ("replies", "expected", "requests"),
    [
        ([ApiError(500)] * 3, "Claude had a server error (500) after 3 tries", 3),
        ([RateLimited()] * 3, "Claude is rate-limiting us (429) after 3 tries", 3),
        ([ApiError(401, "invalid x-api-key")], "Claude rejected the API key (401); check", 1),
        (
            [ApiError(400, "tools.0.input_schema: bad")],
            "Claude rejected the request as invalid (400): tools.0.input_schema: bad",
            1,
        ),
        ([ApiError(404, "model: nope")], f"Claude does not know model '{MODEL}' (404)", 1),
    ],
)
async def test_api_errors_are_model_unavailable(
    fake: FakeAnthropic,
    client: anthropic.AsyncAnthropic,
    config: Config,
    replies: list[ApiError],
    expected: str,
    requests: int,
) -> None:
    fake.script(*replies)

    result = await deploy_agent(client, config).decide(make_thread())

    assert isinstance(result, AgentFailure)
    assert result.kind == "model_unavailable"
    assert result.message.startswith(expected)
    assert "test-key" not in result.message
    assert len(fake.requests) == requests


async def test_timeout_is_model_unavailable(fake: FakeAnthropic, config: Config) -> None:
    fake.script(Slow(0.5, ToolUse("list_tags", {"service": "backend"})))
    async with anthropic.AsyncAnthropic(
        api_key="test-key", base_url=fake.base_url, max_retries=0, timeout=0.1
    ) as sdk:
        result = await deploy_agent(sdk, config).decide(make_thread())

    assert result == AgentFailure(
        kind="model_unavailable", message="Claude did not answer in time", model=MODEL
    )


async def test_connection_refused_is_model_unavailable(config: Config) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with anthropic.AsyncAnthropic(
        api_key="test-key", base_url=f"http://127.0.0.1:{port}", max_retries=1
    ) as sdk:
        sdk = sdk.with_options(timeout=2)
        result = await deploy_agent(sdk, config).decide(make_thread())

    assert isinstance(result, AgentFailure)
    assert result.kind == "model_unavailable"
    assert result.message == "cannot reach Claude (connection error) after 2 tries"


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            ToolUse("deploy", {"service": "payments", "environment": "staging"}),
            "deploy: unknown service 'payments'; known: backend, frontend",
        ),
        (
            ToolUse("deploy", {"service": "frontend", "environment": "production"}),
            "deploy: frontend cannot be deployed to 'production'; its environments: staging",
        ),
        (ToolUse("deploy", {"service": "backend"}), "deploy: missing field 'environment'"),
        (
            ToolUse("deploy", {"service": "backend", "environment": "staging", "force": True}),
            "deploy: unexpected field 'force'",
        ),
        (
            ToolUse("deploy", {"service": "backend", "environment": "staging", "version": "v1;rm"}),
            "deploy: version: String should match pattern",
        ),
        (ToolUse("ask_human", {"message": ""}), "ask_human: message: String should have at least"),
        (
            ToolUse("launch_rockets", {}),
            "unknown tool 'launch_rockets'; use one of: list_tags, list_deploys, deploy, "
            "ask_human, done",
        ),
        (ToolUse("rollback", {"service": "backend", "environment": "staging"}), "unknown tool"),
        (Text("Sure, deploying now!"), "no tool call in the reply"),
        (Text("partial", stop_reason="max_tokens"), "the reply was cut off (max_tokens)"),
    ],
)
async def test_invalid_output_names_the_problem(
    fake: FakeAnthropic,
    client: anthropic.AsyncAnthropic,
    config: Config,
    reply: ToolUse | Text,
    expected: str,
) -> None:
    fake.script(reply)

    result = await deploy_agent(client, config).decide(make_thread())

    assert isinstance(result, AgentFailure)
    assert result.kind == "invalid_output"
    assert result.message.startswith(expected), result.message
    assert len(result.message) <= 400
    assert result.model == MODEL
    assert (result.input_tokens, result.output_tokens) == (reply.input_tokens, reply.output_tokens)
    assert len(fake.requests) == 1  # invalid output is not retried here: the loop decides


async def test_text_before_the_tool_call_is_ignored(
    fake: FakeAnthropic, client: anthropic.AsyncAnthropic, config: Config
) -> None:
    fake.script(ToolUse("done", {"message": "Nothing to do."}, text="Let me think."))

    result = await deploy_agent(client, config).decide(make_thread("thanks!"))

    assert isinstance(result, Decision)
    assert result.intent.intent == "done"


async def test_commands_only_agent_lists_services(config: Config) -> None:
    agent = CommandsOnlyAgent(config=config)

    result = await agent.decide(make_thread("please push the thing"))

    assert isinstance(result, Decision)
    assert isinstance(result.intent, AskHuman)
    message = result.intent.message
    assert "ANTHROPIC_API_KEY" in message
    assert "deploy <service> [version] to <environment>" in message
    assert "rollback <service> in <environment> [to <version>]" in message
    assert "backend (staging, production)" in message
    assert "frontend (staging)" in message
    assert (result.input_tokens, result.output_tokens) == (0, 0)
