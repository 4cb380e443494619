"""How Slack reaches the listeners: ``POST /slack/events`` (HTTP mode) or Socket Mode.

HTTP mode: the route reads at most ``MAX_EVENT_BYTES`` (the web app caps every body too),
verifies the v0 signature itself (``verify.verify_signature``: 401, and the payload is never
parsed) and screens the payload's shape and nesting (``verify.screen_payload``: 400/415)
before handing it to Bolt, which verifies again. It cannot be built without a non-empty
signing secret. A signed request refused for its size or shape, or one Bolt itself fails
on, is set aside (``containment``) and answered 4xx, which Slack does not retry.

Socket Mode (``SLACK_APP_TOKEN``): the app opens a WebSocket to Slack
(``apps.connections.open``) and acknowledges each envelope on it, after the event is in the
stream; nothing needs to be reachable from the internet.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.errors import ConfigError, StoreError
from channels.slack.listeners import SlackListeners
from channels.slack.verify import Malformed, Unverified, screen_payload, verify_signature

__all__ = ["MAX_EVENT_BYTES", "SocketMode", "slack_routes"]

log = logging.getLogger("deploybot.slack")

MAX_EVENT_BYTES = 1024 * 1024  # Slack's payloads are a few KiB


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def slack_routes(
    listeners: SlackListeners,
    *,
    path: str = "/slack/events",
    clock_s: Callable[[], float] = time.time,
) -> list[BaseRoute]:
    """``POST /slack/events``. Raises ``ConfigError`` without a signing secret: an unsigned
    (or empty-secret) HTTP endpoint would let anyone speak as anyone."""
    secret = listeners.signing_secret
    if not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: Slack's HTTP endpoint (/slack/events) cannot "
            "verify requests without it. Set it (Slack app > Basic Information > Signing "
            "Secret), or use Socket Mode (SLACK_APP_TOKEN) without the HTTP endpoint."
        )
    app = listeners.bolt
    contained = listeners.contained

    async def events(request: Request) -> Response:
        try:
            body = await _read_capped(request, MAX_EVENT_BYTES)
        except _TooLarge:
            # Unsigned as far as anyone knows (the body was never read whole): logged only.
            log.warning("slack: refused a request over %d bytes (413)", MAX_EVENT_BYTES)
            return JSONResponse({"error": "the body is too large"}, status_code=413)
        verdict = verify_signature(
            secret=secret,
            body=body,
            timestamp=request.headers.get("x-slack-request-timestamp"),
            signature=request.headers.get("x-slack-signature"),
            now_s=clock_s(),
        )
        if isinstance(verdict, Unverified):
            log.warning("slack: refused a request (401): %s", verdict.reason)
            return JSONResponse({"error": "invalid request"}, status_code=401)
        screened = screen_payload(body, content_type=request.headers.get("content-type"))
        if isinstance(screened, Malformed):
            log.warning(
                "slack: refused a signed request (%d): %s", screened.status_code, screened.reason
            )
            await contained.refused(
                reason=screened.kind, ref="POST /slack/events", detail=screened.reason
            )
            return JSONResponse({"error": screened.reason}, status_code=screened.status_code)
        try:
            bolt_response = await app.async_dispatch(to_async_bolt_request(request, body))
        except (StoreError, OSError):
            raise  # a 500: Slack retries, as nothing was accepted
        except Exception as exc:  # Bolt failed on this payload: set aside, not retried
            log.exception("slack: Bolt failed on a signed request")
            detail = f"Bolt raised {type(exc).__name__}"
            await contained.refused(
                reason="handler_failed", ref="POST /slack/events", detail=detail
            )
            return JSONResponse({"error": "the request could not be handled"}, status_code=400)
        return to_starlette_response(bolt_response)

    return [Route(path, events, methods=["POST"])]


class SocketMode:
    """One Socket Mode connection (slack_sdk reconnects it when Slack drops it). Create it
    inside the running event loop."""

    def __init__(self, listeners: SlackListeners, *, app_token: str, ping_interval_s: float = 10):
        self._handler = AsyncSocketModeHandler(
            listeners.bolt, app_token=app_token, ping_interval=ping_interval_s
        )

    async def connect(self) -> None:
        """Returns once connected (retrying every ``ping_interval_s`` until then)."""
        await self._handler.connect_async()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        client = self._handler.client
        await self._handler.close_async()  # type: ignore[no-untyped-call]
        tasks = [
            t
            for t in (
                client.message_processor,
                client.current_session_monitor,
                client.message_receiver,
            )
            if t is not None
        ]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
