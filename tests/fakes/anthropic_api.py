"""A local fake of the Anthropic Messages API, for the real SDK to talk to.

``FakeAnthropic`` runs a small Starlette app on uvicorn, on a free 127.0.0.1 port, as a task
in the test's own event loop. ``POST /v1/messages`` answers from a scripted queue, in the
real response shape, and records every request (JSON body and headers)::

    async with FakeAnthropic() as fake:
        fake.script(Overloaded(), ToolUse("deploy", {"service": "backend", ...}))
        client = anthropic.AsyncAnthropic(api_key="test-key", base_url=fake.base_url)
        ...
        assert len(fake.requests) == 2

When the script runs out, the fake answers 500 with ``x-should-retry: false`` and a message
that says so, so a test that under-scripts fails at once instead of retrying.
"""

import asyncio
import itertools
import json
import socket
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ApiError",
    "FakeAnthropic",
    "Overloaded",
    "RateLimited",
    "RecordedRequest",
    "Reply",
    "ServedApp",
    "Slow",
    "Text",
    "ToolUse",
]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class ToolUse:
    """A reply with one ``tool_use`` block (``stop_reason: tool_use``)."""

    name: str
    input: dict[str, Any]
    input_tokens: int = 100
    output_tokens: int = 20
    text: str | None = None  # an optional text block before the tool call


@dataclass(frozen=True)
class Text:
    """A text-only reply (``stop_reason: end_turn``)."""

    text: str
    input_tokens: int = 100
    output_tokens: int = 10
    stop_reason: str = "end_turn"


@dataclass(frozen=True)
class ApiError:
    """An error response in the API's shape, e.g. ``ApiError(500)``."""

    status: int
    message: str | None = None
    retry_after_ms: int | None = 10


def Overloaded() -> ApiError:
    return ApiError(529, "Overloaded")


def RateLimited() -> ApiError:
    return ApiError(429, "Number of request tokens has exceeded your per-minute rate limit")


@dataclass(frozen=True)
class Slow:
    """Wait ``delay_s`` before answering with ``then`` (to make the client time out)."""

    delay_s: float
    then: "ToolUse | Text | ApiError"


Reply = ToolUse | Text | ApiError | Slow


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any


@dataclass
class _State:
    script: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))


def _usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def _message(state: _State, model: str, reply: ToolUse | Text) -> dict[str, Any]:
    n = next(state.ids)
    content: list[dict[str, Any]] = []
    if isinstance(reply, ToolUse):
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        content.append(
            {
                "type": "tool_use",
                "id": f"toolu_fake{n:04d}",
                "name": reply.name,
                "input": reply.input,
            }
        )
        stop_reason = "tool_use"
    else:
        content.append({"type": "text", "text": reply.text})
        stop_reason = reply.stop_reason
    return {
        "id": f"msg_fake{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _usage(reply.input_tokens, reply.output_tokens),
    }


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    body = {
        "type": "error",
        "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message},
        "request_id": "req_fake",
    }
    return JSONResponse(body, status_code=status, headers=headers)


def build_app(state: _State) -> Starlette:
    async def messages(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in request.headers.items()}
        state.requests.append(RecordedRequest(path=request.url.path, headers=headers, body=body))
        if not state.script:
            return _error(500, "fake: no scripted reply left", headers={"x-should-retry": "false"})
        reply = state.script.popleft()
        if isinstance(reply, Slow):
            await asyncio.sleep(reply.delay_s)
            reply = reply.then
        if isinstance(reply, ApiError):
            extra = {}
            if reply.retry_after_ms is not None:
                extra["retry-after-ms"] = str(reply.retry_after_ms)
            return _error(reply.status, reply.message or "error", headers=extra)
        model = body.get("model", "unknown") if isinstance(body, dict) else "unknown"
        return JSONResponse(_message(state, model, reply), headers={"request-id": "req_fake"})

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


class ServedApp:
    """Async context manager: ``app`` on uvicorn on a free 127.0.0.1 port, as a task in the
    running loop, serving on ``base_url`` while inside (shared by the fakes of this API)."""

    def __init__(self, app: Starlette, *, what: str) -> None:
        self._app = app
        self._what = what
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._socket = sock
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        for _ in range(500):
            if self._server.started:
                break
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError(f"{self._what} did not start")
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task
        if self._socket is not None:
            self._socket.close()


class FakeAnthropic(ServedApp):
    """Async context manager: the fake API, serving on ``base_url`` while inside."""

    def __init__(self) -> None:
        self._state = _State()
        super().__init__(build_app(self._state), what="fake Anthropic API")

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._state.requests

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one."""
        self._state.script.extend(replies)

    def reset(self) -> None:
        """Forget the script and the recorded requests (to share one server between tests)."""
        self._state.script.clear()
        self._state.requests.clear()

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        return len(self._state.script)
