"""A local fake of the Messages API that bills like prompt caching does, for the real SDK.

``CachingAnthropic`` serves ``POST /v1/messages`` on a free 127.0.0.1 port (Starlette on
uvicorn, in the test's own loop, started and stopped by ``tests.fakes.anthropic_api``'s
``ServedApp``), records every request (raw bytes and parsed JSON) and answers each with
the next scripted tool call, in the real response shape. Its ``usage``
follows the API's caching rules, in a simplified form:

- the request is read as tools, then system, then messages; a block with ``cache_control``
  ends a cacheable prefix (at most 4 such breakpoints, as the API allows);
- the longest marked prefix seen before (same model, byte-identical JSON of every block up
  to the breakpoint) is a cache read; otherwise the longest marked prefix at least
  ``min_tokens`` long is written (``cache_creation_input_tokens``); the rest is
  ``input_tokens``;
- a "token" here is 4 characters of the blocks' compact JSON: a stand-in, not the model's
  tokenizer, so tests compare the numbers with what the fake reported, never with a constant.

A request with more than 4 breakpoints is answered 400 like the API does; a request when
the script is empty is answered 500 with ``x-should-retry: false``.
"""

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.anthropic_api import ServedApp

__all__ = ["CachingAnthropic", "Recorded", "Usage", "prefix_blocks"]

_MAX_BREAKPOINTS = 4
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Recorded:
    raw: bytes
    body: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int


def _compact(block: object) -> str:
    return json.dumps(block, separators=(",", ":"), ensure_ascii=False)


def prefix_blocks(body: dict[str, Any]) -> list[object]:
    """The request's blocks in the API's cache order: tools, system blocks, then messages."""
    system = body.get("system", [])
    blocks: list[object] = [*body.get("tools", [])]
    blocks += [{"type": "text", "text": system}] if isinstance(system, str) else system
    for message in body.get("messages", []):
        content = message["content"]
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content})
        else:
            blocks.extend(content)
    return blocks


def _tokens(blocks: list[object]) -> int:
    return sum(-(-len(_compact(b)) // _CHARS_PER_TOKEN) for b in blocks)


@dataclass
class _State:
    min_tokens: int
    script: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    cache: set[str] = field(default_factory=set)
    ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def bill(self, body: dict[str, Any]) -> Usage | None:
        blocks = prefix_blocks(body)
        ends = [i + 1 for i, b in enumerate(blocks) if isinstance(b, dict) and "cache_control" in b]
        if len(ends) > _MAX_BREAKPOINTS:
            return None
        keys = {end: body["model"] + "\n" + _compact(blocks[:end]) for end in ends}
        read = max((end for end in ends if keys[end] in self.cache), default=0)
        written = max(
            (end for end in ends if end > read and _tokens(blocks[:end]) >= self.min_tokens),
            default=read,
        )
        self.cache.update(keys[end] for end in ends if end <= written)
        usage = Usage(
            input_tokens=_tokens(blocks[written:]),
            cache_creation_input_tokens=_tokens(blocks[read:written]),
            cache_read_input_tokens=_tokens(blocks[:read]),
        )
        self.usages.append(usage)
        return usage


def _app(state: _State) -> Starlette:
    async def messages(request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw)
        state.requests.append(Recorded(raw=raw, body=body))
        usage = state.bill(body)
        if usage is None:
            error = {"type": "invalid_request_error", "message": "at most 4 cache_control blocks"}
            return JSONResponse({"type": "error", "error": error}, status_code=400)
        if not state.script:
            error = {"type": "api_error", "message": "fake: no scripted reply left"}
            return JSONResponse(
                {"type": "error", "error": error},
                status_code=500,
                headers={"x-should-retry": "false"},
            )
        name, tool_input = state.script.pop(0)
        n = next(state.ids)
        return JSONResponse(
            {
                "id": f"msg_cache{n:04d}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [
                    {"type": "tool_use", "id": f"toolu_c{n:04d}", "name": name, "input": tool_input}
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": usage.input_tokens,
                    "output_tokens": 17,
                    "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                    "cache_read_input_tokens": usage.cache_read_input_tokens,
                    "service_tier": "standard",
                },
            }
        )

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


class CachingAnthropic(ServedApp):
    """Async context manager: the caching fake, serving on ``base_url`` while inside."""

    def __init__(self, *, min_tokens: int = 0) -> None:
        self._state = _State(min_tokens=min_tokens)
        super().__init__(_app(self._state), what="the caching fake")

    @property
    def requests(self) -> list[Recorded]:
        return self._state.requests

    @property
    def usages(self) -> list[Usage]:
        """What each request was billed, in order."""
        return self._state.usages

    def script(self, *calls: tuple[str, dict[str, Any]]) -> None:
        """Queue tool calls (name, input); each request takes the next one."""
        self._state.script.extend(calls)
