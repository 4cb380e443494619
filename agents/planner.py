"""The one model call: a rendered thread in, one validated intent (or a failure) out.

Claude gets our system prompt, the thread as one user message and the agent's intents as
strict tools, with ``tool_choice`` forcing exactly one tool call. The SDK does its own
retries (429, 529, 5xx, timeouts, connection errors); what still fails afterwards becomes an
``AgentFailure`` and never an exception, with a short message that is safe to show to people
and to the model: it names the status and the number of tries, never a key or a body.
"""

from collections.abc import Sequence

import anthropic
from anthropic.types import Message, ToolParam, ToolUseBlock, Usage

from agents.toolset import IntentType, parse_tool_use
from bot.core.config.config import Config
from bot.core.errors import InvalidIntent
from bot.core.ports.agent import AgentFailure, Decision

__all__ = ["ClaudePlanner"]

_MAX_DETAIL_CHARS = 200


class ClaudePlanner:
    def __init__(
        self, *, client: anthropic.AsyncAnthropic, model: str, max_tokens: int = 1024
    ) -> None:
        self._client = client
        self.model = model
        self.max_tokens = max_tokens

    async def choose(
        self,
        *,
        system: str,
        prompt: str,
        tools: list[ToolParam],
        allowed: Sequence[IntentType],
        config: Config,
    ) -> Decision | AgentFailure:
        """Ask Claude for the next intent; never raises for API or output problems."""
        try:
            message = await self._client.messages.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
                tools=tools,
                tool_choice={"type": "any", "disable_parallel_tool_use": True},
            )
        except anthropic.AnthropicError as exc:
            return _failure_for(exc, model=self.model)
        return _decision(message, allowed=allowed, config=config)


def _decision(
    message: Message, *, allowed: Sequence[IntentType], config: Config
) -> Decision | AgentFailure:
    input_tokens, output_tokens = _tokens(message.usage)

    def invalid(problem: str) -> AgentFailure:
        return AgentFailure(
            kind="invalid_output",
            message=problem,
            model=message.model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
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
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )


def _tokens(usage: Usage) -> tuple[int, int]:
    """All input tokens the call was billed for (cache reads and writes included), output."""
    input_tokens = (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )
    return input_tokens, usage.output_tokens


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
