"""The agent used when there is no ANTHROPIC_API_KEY: it explains the commands it knows.

Exact commands never reach an agent (the grammar handles them), so anything that does is
free text the bot cannot read without a model. The answer says so, lists the commands, and
lists the configured services with their environments.
"""

from typing import Literal

from bot.core.config.config import Config
from bot.core.ports.agent import AgentFailure, Decision
from bot.core.thread.intents import AskHuman
from bot.core.thread.thread import Thread
from bot.core.wording.messages import help_text

__all__ = ["CommandsOnlyAgent", "commands_only_text"]

_MAX_CHARS = 2000  # AskHuman.message's limit


def commands_only_text(config: Config) -> str:
    services = "; ".join(
        f"{name} ({', '.join(service.environments)})" for name, service in config.services.items()
    )
    text = (
        "I can only follow exact commands right now (no model is configured: "
        "ANTHROPIC_API_KEY is not set).\n"
        f"{help_text(config)}\n"
        f"Where each service goes: {services}."
    )
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


class CommandsOnlyAgent:
    """Implements ``bot.core.ports.agent.Agent`` without a model: always asks for an exact
    command."""

    def __init__(self, *, config: Config, name: Literal["deploy", "rollback"] = "deploy") -> None:
        self.name: Literal["deploy", "rollback"] = name
        self._message = commands_only_text(config)

    async def decide(self, thread: Thread) -> Decision | AgentFailure:
        return Decision(intent=AskHuman(message=self._message))
