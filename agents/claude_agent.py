"""What the deploy and rollback agents share: owned prompt + closed intents + one model call.

An agent renders the thread with ``thread_to_prompt`` (secrets masked), and asks the planner
to choose among its own intents, with the enums for service and environment from the config.
Subclasses only name themselves, their prompt file and their intents.

The system prompt and the tools are built once, when the agent is, and are the same for every
thread: they are the prompt-cached prefix (``agents.planner``). Everything that varies (the
thread, the people, ``<now>``) is in the rendered thread. ``request`` is exactly what
``decide`` sends (``bench/tokens.py`` counts it).
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from importlib import resources
from typing import ClassVar, Literal

from agents.planner import ClaudePlanner, ModelRequest
from agents.render import thread_to_prompt
from agents.toolset import IntentType, build_tools
from bot.core.config.config import Config
from bot.core.ports.agent import AgentFailure, Decision
from bot.core.thread.thread import Thread

__all__ = ["ClaudeAgent", "load_prompt"]


def load_prompt(name: str) -> str:
    """The text of ``agents/prompts/<name>.md`` (package data, reviewed like code)."""
    return resources.files("agents").joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


class ClaudeAgent:
    """Base of the Claude-backed agents; implements ``bot.core.ports.agent.Agent``."""

    name: Literal["deploy", "rollback"]
    allowed: ClassVar[tuple[IntentType, ...]]

    def __init__(
        self,
        *,
        planner: ClaudePlanner,
        config: Config,
        secrets: Sequence[str] = (),
        clock: Callable[[], datetime],
    ) -> None:
        self._planner = planner
        self._config = config
        self._secrets = tuple(secrets)
        self._clock = clock
        self.system = load_prompt(self.name)
        self.tools = build_tools(self.allowed, config=config)

    def prompt(self, thread: Thread) -> str:
        """Exactly what the model would read next for ``thread`` (``threads show --prompt``)."""
        return thread_to_prompt(
            thread, config=self._config, now=self._clock(), secrets=self._secrets
        )

    def request(self, thread: Thread) -> ModelRequest:
        """The model call ``decide`` makes for ``thread``: cached prefix, then the thread."""
        return self._planner.request(
            system=self.system, prompt=self.prompt(thread), tools=self.tools
        )

    async def decide(self, thread: Thread) -> Decision | AgentFailure:
        return await self._planner.choose(
            request=self.request(thread), allowed=self.allowed, config=self._config
        )
