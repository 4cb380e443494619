"""What the loop needs from an agent: read the thread, choose the next intent."""

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bot.core.thread.intents import Intent
from bot.core.thread.thread import Thread

__all__ = ["Agent", "AgentFailure", "Decision"]


class Decision(BaseModel):
    """The intent the agent chose, with the model's usage.

    ``input_tokens`` is every input token billed (uncached, cache writes and cache reads);
    ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` are the part of it read
    from or written to the prompt cache.
    """

    model_config = ConfigDict(frozen=True)

    intent: Intent
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class AgentFailure(BaseModel):
    """The agent could not choose: its output was invalid, or the model was unreachable.

    ``message`` is compact and safe to put in the thread and in front of the model again.
    The tokens are counted as in ``Decision``.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["invalid_output", "model_unavailable"]
    message: str
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


class Agent(Protocol):
    name: Literal["deploy", "rollback"]

    async def decide(self, thread: Thread) -> Decision | AgentFailure: ...
