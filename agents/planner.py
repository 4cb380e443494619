"""The one model call: a rendered thread in, one validated intent (or a failure) out.

Claude gets our system prompt, the thread as one user message and the agent's intents as
strict tools, with ``tool_choice`` forcing exactly one tool call. The SDK does its own
retries (429, 529, 5xx, timeouts, connection errors); what still fails afterwards becomes an
``AgentFailure`` and never an exception, with a short message that is safe to show to people
and to the model: it names the status and the number of tries, never a key or a body.

Prompt caching: the API reads a request as tools, then system, then messages. The tools and
the system prompt are the same for every thread an agent handles (the prompt file and the
config's enums, fixed when the agent is built; nothing per thread, per call or per time is in
them), so ``request`` marks the last tool and the system prompt (sent as one text block) with
``cache_control: ephemeral``: that prefix is written to the cache once and read at a tenth
of the price while it stays warm (5 minutes from its last use); only the thread's own
rendering (the user message, which holds ``<now>``) is billed in full. Below the model's
minimum cacheable length the API ignores the markers and bills everything as before:
nothing fails. The usage the API reports is kept: ``input_tokens`` is every input token the
call was billed for (uncached, cache writes and cache reads added up, as before), and
``cache_read_input_tokens`` / ``cache_creation_input_tokens`` say how many of them were read
from or written to the cache.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypedDict

import anthropic
from anthropic.types import (
    CacheControlEphemeralParam,
    Message,
    MessageParam,
    TextBlockParam,
    ToolChoiceAnyParam,
    ToolParam,
    ToolUseBlock,
    Usage,
)

from agents.toolset import IntentType, parse_tool_use
from bot.core.config.config import Config
from bot.core.errors import InvalidIntent
from bot.core.ports.agent import AgentFailure, Decision

__all__ = ["ClaudePlanner", "ModelRequest", "cached_system", "cached_tools"]

_MAX_DETAIL_CHARS = 200
_CACHED: Final[CacheControlEphemeralParam] = {"type": "ephemeral"}


class ModelRequest(TypedDict):
    """Exactly what one model call sends: the keyword arguments of ``messages.create``.

    ``tools`` and ``system`` are the cached prefix (each ends with a cache marker);
    ``messages`` is the thread, never cached.
    """

    model: str
    max_tokens: int
    tools: list[ToolParam]
    system: list[TextBlockParam]
    tool_choice: ToolChoiceAnyParam
    messages: list[MessageParam]


def cached_tools(tools: Sequence[ToolParam]) -> list[ToolParam]:
    """``tools`` with a cache breakpoint on the last one (the tools are the prefix's start)."""
    marked = list(tools)
    if marked:
        marked[-1] = {**marked[-1], "cache_control": _CACHED}
    return marked


def cached_system(system: str) -> list[TextBlockParam]:
    """The system prompt as one text block with a cache breakpoint (tools + system cached)."""
    return [{"type": "text", "text": system, "cache_control": _CACHED}]


class ClaudePlanner:
    def __init__(
        self, *, client: anthropic.AsyncAnthropic, model: str, max_tokens: int = 1024
    ) -> None:
        self._client = client
        self.model = model
        self.max_tokens = max_tokens

    def request(self, *, system: str, prompt: str, tools: Sequence[ToolParam]) -> ModelRequest:
        """The request for one call: the cached prefix (tools, system), then the thread."""
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "tools": cached_tools(tools),
            "system": cached_system(system),
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "messages": [{"role": "user", "content": prompt}],
        }

    async def choose(
        self, *, request: ModelRequest, allowed: Sequence[IntentType], config: Config
    ) -> Decision | AgentFailure:
        """Send ``request`` and read the next intent; never raises for API or output problems."""
        try:
            message = await self._client.messages.create(**request)
        except anthropic.AnthropicError as exc:
            return _failure_for(exc, model=self.model)
        return _decision(message, allowed=allowed, config=config)


def _decision(
    message: Message, *, allowed: Sequence[IntentType], config: Config
) -> Decision | AgentFailure:
    tokens = _Tokens.of(message.usage)

    def invalid(problem: str) -> AgentFailure:
        return AgentFailure(
            kind="invalid_output",
            message=problem,
            model=message.model,
            input_tokens=tokens.input,
            output_tokens=tokens.output,
            cache_read_input_tokens=tokens.cache_read,
            cache_creation_input_tokens=tokens.cache_creation,
        )

    block = next((b for b in message.content if isinstance(b, ToolUseBlock)), None)
    if block is None:
        if message.stop_reason == "refusal":
            return invalid("the model refused to answer")
        if message.stop_reason == "max_tokens":
            return invalid("the reply was cut off (max_tokens) before any tool call")
        return invalid("no tool call in the reply; answer by calling exactly one tool")
    if message.stop_reason == "max_tokens":
        return invalid(f"the {block.name} call was cut off (max_tokens); keep the input short")
    try:
        intent = parse_tool_use(block.name, block.input, allowed=allowed, config=config)
    except InvalidIntent as exc:
        return invalid(str(exc))
    return Decision(
        intent=intent,
        model=message.model,
        input_tokens=tokens.input,
        output_tokens=tokens.output,
        cache_read_input_tokens=tokens.cache_read,
        cache_creation_input_tokens=tokens.cache_creation,
    )


@dataclass(frozen=True)
class _Tokens:
    input: int  # all input tokens the call was billed for: uncached + cache writes + reads
    output: int
    cache_read: int
    cache_creation: int

    @classmethod
    def of(cls, usage: Usage) -> "_Tokens":
        cache_read = usage.cache_read_input_tokens or 0
        cache_creation = usage.cache_creation_input_tokens or 0
        return cls(
            input=usage.input_tokens + cache_creation + cache_read,
            output=usage.output_tokens,
            cache_read=cache_read,
            cache_creation=cache_creation,
        )


def _tries(exc: anthropic.APIError) -> int:
    """How many requests the SDK made: its retry counter on the last request, plus one."""
    try:
        return int(exc.request.headers.get("x-stainless-retry-count", "0")) + 1
    except ValueError:
        return 1


def _after(tries: int) -> str:
    return "" if tries <= 1 else f" after {tries} tries"


def _detail(exc: anthropic.APIStatusError) -> str:
    text = " ".join((exc.api_message or "").split())
    if not text:
        return ""
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[: _MAX_DETAIL_CHARS - 1] + "…"
    return f": {text}"


def _failure_for(exc: anthropic.AnthropicError, *, model: str) -> AgentFailure:
    """A model_unavailable failure with a short, human-safe message for an SDK error."""
    match exc:
        case anthropic.APITimeoutError():
            message = f"Claude did not answer in time{_after(_tries(exc))}"
        case anthropic.APIConnectionError():
            message = f"cannot reach Claude (connection error){_after(_tries(exc))}"
        case anthropic.APIStatusError(status_code=status):
            message = _status_message(exc, status, model=model)
        case _:
            message = f"unexpected problem talking to Claude ({type(exc).__name__})"
    return AgentFailure(kind="model_unavailable", message=message, model=model)


def _status_message(exc: anthropic.APIStatusError, status: int, *, model: str) -> str:
    after = _after(_tries(exc))
    if status == 529:
        return f"Claude is overloaded ({status}){after}"
    if status == 429:
        return f"Claude is rate-limiting us ({status}){after}"
    if status >= 500:
        return f"Claude had a server error ({status}){after}"
    if status == 401:
        return f"Claude rejected the API key ({status}); check ANTHROPIC_API_KEY"
    if status == 403:
        return f"the API key may not use Claude this way ({status}){_detail(exc)}"
    if status == 404:
        return f"Claude does not know model {model!r} ({status}); check ANTHROPIC_MODEL"
    if status == 400:
        return f"Claude rejected the request as invalid ({status}){_detail(exc)}"
    return f"Claude answered with an error ({status}){after}{_detail(exc)}"
