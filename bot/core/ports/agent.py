"""What the loop needs from an agent: read the thread, choose the next intent."""

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.intents import Intent
from bot.core.thread.thread import Thread

__all__ = ["Agent", "AgentFailure", "Decision"]


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    intent: Intent
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


class AgentFailure(BaseModel):
    """The agent could not choose: its output was invalid, or the model was unreachable.

    ``message`` is compact and safe to put in the thread and in front of the model again.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["invalid_output", "model_unavailable"]
    message: str
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


class Agent(Protocol):
    name: Literal["deploy", "rollback"]

    async def decide(self, thread: Thread) -> Decision | AgentFailure: ...
