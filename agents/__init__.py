"""The small agents: each an owned prompt, a closed set of intents and ``decide(thread)``.

``build_agents`` is the one entry point the wiring needs: Claude-backed deploy and rollback
agents when there is an Anthropic client, else the commands-only fallback for both.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

import anthropic

from agents.deploy import DeployAgent
from agents.fallback import CommandsOnlyAgent
from agents.planner import ClaudePlanner
from agents.rollback import RollbackAgent
from bot.agent import Agent
from bot.config import Config

__all__ = ["DEFAULT_MODEL", "build_agents"]

DEFAULT_MODEL = "claude-sonnet-5-5"


def build_agents(
    *,
    config: Config,
    client: anthropic.AsyncAnthropic | None,
    model: str = DEFAULT_MODEL,
    secrets: Sequence[str] = (),
    clock: Callable[[], datetime],
    max_tokens: int = 1024,
) -> dict[Literal["deploy", "rollback"], Agent]:
    """One agent per thread kind; without a client (no ANTHROPIC_API_KEY) commands only."""
    if client is None:
        return {
            "deploy": CommandsOnlyAgent(config=config, name="deploy"),
            "rollback": CommandsOnlyAgent(config=config, name="rollback"),
        }
    planner = ClaudePlanner(client=client, model=model, max_tokens=max_tokens)
    return {
        "deploy": DeployAgent(planner=planner, config=config, secrets=secrets, clock=clock),
        "rollback": RollbackAgent(planner=planner, config=config, secrets=secrets, clock=clock),
    }
