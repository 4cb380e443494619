"""How Slack reaches the listeners: ``POST /slack/events`` (HTTP mode) or Socket Mode.

HTTP mode: Bolt verifies the signature (v0 HMAC, timestamp within 5 minutes) and answers 401
otherwise. Socket Mode (``SLACK_APP_TOKEN``): the app opens a WebSocket to Slack
(``apps.connections.open``) and acknowledges each envelope on it, after the event is in the
stream; nothing needs to be reachable from the internet.
"""

import asyncio
import contextlib

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from channels.slack.listeners import SlackListeners

__all__ = ["SocketMode", "slack_routes"]


def slack_routes(listeners: SlackListeners, *, path: str = "/slack/events") -> list[BaseRoute]:
    handler = AsyncSlackRequestHandler(listeners.bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

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
