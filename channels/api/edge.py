"""The API's edge, the same on every route: who may call, how big a body, how a refusal reads.

A handler raises ``Problem`` for any answer but success; ``guard`` turns it into the JSON error
(``WWW-Authenticate`` on a ``401``) and Redis being unreachable into a ``503`` saying nothing
was accepted, so no handler repeats that. A body is counted as it streams in and refused past
``MAX_BODY_BYTES``, so an oversized one is never held in memory whole.

Answers are JSON with every character outside printable ASCII escaped (``AsciiJSON``): a
thread carries outside text (commit subjects, deploy output), and ``curl`` prints what it
gets to a terminal, which must not act on a bidi override or a C1 control in it.

No body stops the API: ``read_json_body`` measures how deeply a body nests before anything
parses it (400 past ``MAX_JSON_DEPTH``), and a handler that raises is answered ``500`` by
``guard`` instead of failing the connection. Either is set aside: a log line,
``deploybot_inputs_set_aside_total{channel="api"|"webhook"}`` and an audit record.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.core.errors import StoreError
from bot.core.ports.audit import SetAsideLog
from bot.core.reading.json_shape import check_json_depth
from bot.core.thread.set_aside import SetAside, SetAsideReason

from .auth import bearer_ok
from .bodies import ApiError

__all__ = [
    "MAX_BODY_BYTES",
    "AsciiJSON",
    "Handler",
    "Problem",
    "answer",
    "check_json_body",
    "guard",
    "read_body",
    "read_json_body",
]

log = logging.getLogger("deploybot.api")

MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[Request], Awaitable[Response]]


class Problem(Exception):
    """An answer other than success: the status code and a message for the client."""

    def __init__(
        self, status_code: int, message: str, *, set_aside: SetAsideReason | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.set_aside = set_aside  # the reason to count it under, if it is set aside


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
    handler: Handler,
    *,
    auth: Literal["bearer", "signature"],
    api_token: str | None,
    set_aside: SetAsideLog | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Handler:
    """``handler`` behind the edge. ``bearer``: the token is checked before the handler runs;
    ``signature``: the handler checks it, as the signature covers the body it reads.
    ``set_aside`` records the requests set aside (none recorded without it)."""
    channel: Literal["api", "webhook"] = "api" if auth == "bearer" else "webhook"

    async def record(request: Request, reason: SetAsideReason, detail: str) -> None:
        if set_aside is not None:
            ref = f"{request.method} {request.url.path}"
            item = SetAside(at=clock(), channel=channel, reason=reason, ref=ref, detail=detail)
            await set_aside.record_quietly(item)

    async def guarded(request: Request) -> Response:
        try:
            if auth == "bearer":
                _check_bearer(request, api_token)
            return await handler(request)
        except Problem as problem:
            if problem.set_aside is not None:
                await record(request, problem.set_aside, problem.message)
            return _error(problem.status_code, problem.message)
        except (StoreError, OSError) as exc:
            log.warning("%s %s: redis unavailable: %s", request.method, request.url.path, exc)
            return _error(503, "Redis is unreachable; nothing was accepted or changed. Try again.")
        except Exception as exc:  # a bug met on this request: answered, counted, not fatal
            log.exception("%s %s failed", request.method, request.url.path)
            await record(request, "handler_failed", f"handling it raised {type(exc).__name__}")
            return _error(
                500,
                "the request failed on the server's side; it was set aside for "
                "an operator (see the logs). Nothing more is known about it.",
            )

    return guarded


def _check_bearer(request: Request, api_token: str | None) -> None:
    if api_token is None:
        raise Problem(503, "the HTTP API is off: DEPLOYBOT_API_TOKEN is not set")
    if not bearer_ok(request.headers.get("authorization"), token=api_token):
        raise Problem(401, "missing or wrong 'Authorization: Bearer <DEPLOYBOT_API_TOKEN>'")


async def read_body(request: Request, *, sender_known: bool = True) -> bytes:
    """The body, refused with 413 past ``MAX_BODY_BYTES``. ``sender_known``: the caller
    was authenticated, so a refusal is set aside; a webhook's body is read before its
    signature can be checked, and a stranger's oversized body is only refused."""
    declared = request.headers.get("content-length", "")
    too_large = f"the body is larger than {MAX_BODY_BYTES} bytes"
    counted: SetAsideReason | None = "too_large" if sender_known else None
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Problem(413, too_large, set_aside=counted)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, too_large, set_aside=counted)
        chunks.append(chunk)
    return b"".join(chunks)


def check_json_body(raw: bytes) -> bytes:
    """``raw``, or a 422 (set aside) when its JSON nests too deeply to be parsed."""
    too_deep = check_json_depth(raw)
    if too_deep is not None:
        raise Problem(422, too_deep.reason, set_aside="too_deep")
    return raw


async def read_json_body(request: Request) -> bytes:
    """``read_body`` and ``check_json_body``: an authenticated JSON body, safe to parse."""
    return check_json_body(await read_body(request))
