"""The deploy agent: looks up tags and history, proposes a deploy, asks, or finishes."""

from typing import ClassVar, Literal

from agents.claude_agent import ClaudeAgent
from agents.toolset import IntentType
from bot.core.thread.intents import AskHuman, Deploy, Done, ListDeploys, ListTags

__all__ = ["DeployAgent"]


class DeployAgent(ClaudeAgent):
    name: Literal["deploy", "rollback"] = "deploy"
    allowed: ClassVar[tuple[IntentType, ...]] = (ListTags, ListDeploys, Deploy, AskHuman, Done)
