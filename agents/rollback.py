"""The rollback agent: looks up history, proposes a rollback, asks, or finishes."""

from typing import ClassVar, Literal

from agents.claude_agent import ClaudeAgent
from agents.toolset import IntentType
from bot.core.thread.intents import AskHuman, Done, ListDeploys, Rollback

__all__ = ["RollbackAgent"]


class RollbackAgent(ClaudeAgent):
    name: Literal["deploy", "rollback"] = "rollback"
    allowed: ClassVar[tuple[IntentType, ...]] = (ListDeploys, Rollback, AskHuman, Done)
