"""The API's edge, the same on every route: who may call, how big a body, how a refusal reads.

A handler raises ``Problem`` for any answer but success; ``guard`` turns it into the JSON error
(``WWW-Authenticate`` on a ``401``) and Redis being unreachable into a ``503`` saying nothing
was accepted, so no handler repeats that. A body is counted as it streams in and refused past
``MAX_BODY_BYTES``, so an oversized one is never held in memory whole.

Answers are JSON with every character outside printable ASCII escaped (``AsciiJSON``): a
thread carries outside text (commit subjects, deploy output), and ``curl`` prints what it
gets to a terminal, which must not act on a bidi override or a C1 control in it.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .auth import bearer_ok
from .bodies import ApiError

__all__ = ["MAX_BODY_BYTES", "AsciiJSON", "Handler", "Problem", "answer", "guard", "read_body"]

log = logging.getLogger("deploybot.api")

MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[Request], Awaitable[Response]]


class Problem(Exception):
    """An answer other than success: the status code and a message for the client."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class AsciiJSON(JSONResponse):
    """JSON as ASCII: control, bidi and every other non-ASCII character as a ``\\u`` escape."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        return text.encode()


def answer(model: BaseModel, status_code: int, *, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return AsciiJSON(model.model_dump(mode="json"), status_code=status_code, headers=headers)


def _error(status_code: int, message: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status_code == 401 else None
    return AsciiJSON(ApiError(error=message).model_dump(), status_code=status_code, headers=headers)


def guard(
    handler: Handler, *, auth: Literal["bearer", "signature"], api_token: str | None
) -> Handler:
    """``handler`` behind the edge. ``bearer``: the token is checked before the handler runs;
    ``signature``: the handler checks it, as the signature covers the body it reads."""

    async def guarded(request: Request) -> Response:
        try:
            if auth == "bearer":
                _check_bearer(request, api_token)
            return await handler(request)
        except Problem as problem:
            return _error(problem.status_code, problem.message)
        except (RedisError, OSError) as exc:
            log.warning("%s %s: redis unavailable: %s", request.method, request.url.path, exc)
            return _error(503, "Redis is unreachable; nothing was accepted or changed. Try again.")

    return guarded


def _check_bearer(request: Request, api_token: str | None) -> None:
    if api_token is None:
        raise Problem(503, "the HTTP API is off: DEPLOYBOT_API_TOKEN is not set")
    if not bearer_ok(request.headers.get("authorization"), token=api_token):
        raise Problem(401, "missing or wrong 'Authorization: Bearer <DEPLOYBOT_API_TOKEN>'")


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
