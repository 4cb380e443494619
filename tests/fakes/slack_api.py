"""A local fake of the Slack Web API and of Slack's side of Socket Mode, plus signed payloads.

``FakeSlack`` (aiohttp, a free 127.0.0.1 port, in the test's own event loop) answers
``auth.test``, ``chat.postMessage``, ``chat.postEphemeral``, ``chat.update``, ``views.open``,
``reactions.add`` and ``apps.connections.open`` in the real response shapes, records every
call, and keeps each posted message's current text and blocks (``fake.messages``). It
checks the bearer token. ``fail(method, ...)`` makes the next call(s) answer an error or a
429 with ``Retry-After``. ``/socket`` is a Socket Mode WebSocket: it says ``hello``, then
sends what ``socket_send`` is given and records the client's acknowledgements.

``views.publish`` is as rude as Slack's: a view that is not a ``home`` view, has more than
100 blocks, repeats a ``block_id`` or names no user is refused (``invalid_arguments``), and
more than ``publish_limit`` publishes within ``publish_window_s`` are answered 429 with a
``Retry-After``; each person's current home is in ``fake.homes``.

``SlackPoster`` posts Events API bodies, interactive payloads and slash commands to a Bolt
app over HTTP, signed with the v0 scheme.
"""

import asyncio
import hashlib
import hmac
import itertools
import json
import math
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, WSMsgType, web

__all__ = [
    "BOT_USER",
    "TEAM",
    "Call",
    "FakeSlack",
    "SlackPoster",
    "click",
    "event",
    "home_click",
    "home_opened",
    "reject_submission",
    "sign",
    "slash",
]

TEAM = "T0TEST"
BOT_USER = "U0BOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int = 200
    result: dict[str, Any] = field(default_factory=dict)
    at_s: float = field(default_factory=time.monotonic)  # when the fake received it


@dataclass
class _Failure:
    status: int
    error: str
    retry_after_s: int | None


@dataclass
class FakeSlack:
    token: str = "xoxb-test"
    app_token: str = "xapp-test"
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    on_socket_ack: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    base_url: str = ""
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> published view
    publish_limit: int = 100  # views.publish calls per window (Tier 4: 100+ a minute)
    publish_window_s: float = 60.0
    _published_s: list[float] = field(default_factory=list)
    _failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _ts: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _port: int = 0

    # -- what tests use ------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        error: str = "fatal_error",
        status: int = 200,
        retry_after_s: int | None = None,
        times: int = 1,
    ) -> None:
        self._failures.setdefault(method, []).extend(
            [_Failure(status, error, retry_after_s)] * times
        )

    def called(self, method: str, *, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The messages posted in one Slack thread, oldest first, as they are now."""
        return [
            m
            for (ch, _ts), m in sorted(self.messages.items(), key=lambda kv: float(kv[0][1]))
            if ch == channel and m.get("thread_ts") == thread_ts
        ]

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        for _ in range(200):
            if self._sockets:
                break
            await asyncio.sleep(0.01)
        await self._sockets[-1].send_str(json.dumps(envelope))

    # -- the server ----------------------------------------------------------------------

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            args = await request.json()
        else:
            args = dict(await request.post())
        for key in ("blocks", "view"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        auth = request.headers.get("Authorization", "")
        want = self.app_token if method == "apps.connections.open" else self.token
        if auth != f"Bearer {want}":
            self.calls.append(Call(method, args, 401))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if failures := self._failures.get(method):
            failure = failures.pop(0)
            self.calls.append(Call(method, args, failure.status))
            headers = {"Retry-After": str(failure.retry_after_s)} if failure.retry_after_s else {}
            return web.json_response(
                {"ok": False, "error": failure.error}, status=failure.status, headers=headers
            )
        if method == "views.publish" and (wait_s := self._publish_wait_s()) is not None:
            self.calls.append(Call(method, args, 429))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(wait_s)},
            )
        result = self._answer(method, args)
        self.calls.append(Call(method, args, result=result))
        return web.json_response(result)

    def _publish_wait_s(self) -> int | None:
        """None: a views.publish may go now (and is counted); else the seconds to wait."""
        now_s = time.monotonic()
        self._published_s = [t for t in self._published_s if now_s - t < self.publish_window_s]
        if len(self._published_s) >= self.publish_limit:
            return max(1, math.ceil(self._published_s[0] + self.publish_window_s - now_s))
        self._published_s.append(now_s)
        return None

    def _publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish: the view checked as Slack checks it, then kept as the user's home."""
        view, user = args.get("view"), args.get("user_id")
        problems = []
        if not isinstance(user, str) or not user:
            problems.append("[ERROR] missing required field: user_id")
        if not isinstance(view, dict) or view.get("type") != "home":
            problems.append("[ERROR] must be a home view [json-pointer:/view/type]")
        blocks = view.get("blocks") if isinstance(view, dict) else None
        if not isinstance(blocks, list):
            problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
        else:
            if len(blocks) > 100:
                problems.append(
                    "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"
                )
            ids = [b["block_id"] for b in blocks if isinstance(b, dict) and "block_id" in b]
            if len(ids) != len(set(ids)):
                problems.append("[ERROR] duplicate block_id [json-pointer:/view/blocks]")
        if problems:
            return {
                "ok": False,
                "error": "invalid_arguments",
                "response_metadata": {"messages": problems},
            }
        assert isinstance(user, str)
        assert isinstance(view, dict)
        self.homes[user] = view
        return {"ok": True, "view": {**view, "id": f"V0HOME{user}"}}

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        match method:
            case "auth.test":
                return {
                    "ok": True,
                    "url": "https://test.slack.com/",
                    "team": "Test",
                    "user": "deploybot",
                    "team_id": TEAM,
                    "user_id": BOT_USER,
                    "bot_id": "B0BOT",
                }
            case "chat.postMessage":
                ts = self._next_ts()
                message = {**args, "ts": ts}
                self.messages[(channel, ts)] = message
                return {"ok": True, "channel": channel, "ts": ts, "message": message}
            case "chat.update":
                key = (channel, str(args.get("ts")))
                if key not in self.messages:
                    return {"ok": False, "error": "message_not_found"}
                self.messages[key] = {**self.messages[key], **args}
                return {"ok": True, "channel": channel, "ts": key[1], "text": args.get("text")}
            case "chat.postEphemeral":
                return {"ok": True, "message_ts": self._next_ts()}
            case "views.open":
                return {"ok": True, "view": {**args.get("view", {}), "id": "V0TEST"}}
            case "views.publish":
                return self._publish(args)
            case "apps.connections.open":
                return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/socket"}
            case _:
                return {"ok": True}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0TEST"},
                }
            )
        )
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                ack = json.loads(msg.data)
                if self.on_socket_ack is not None:
                    await self.on_socket_ack(ack)
                self.socket_acks.append(ack)
        return ws

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self._port}/api/"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()


# -- signed requests to the app ------------------------------------------------------------


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """Slack's v0 request signature headers for ``body``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{stamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


class SlackPoster:
    """Posts to ``url`` (the app's ``/slack/events``) as Slack does; returns (status, body)."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self._session: ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = ClientSession()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        assert self._session is not None, "use 'async with SlackPoster(...)'"
        signed = sign(secret or self.secret, body, timestamp=timestamp)
        all_headers = {"Content-Type": content_type, **signed, **(headers or {})}
        async with self._session.post(self.url, data=body, headers=all_headers) as response:
            return response.status, await response.text()

    async def raw(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """Posts ``body`` with exactly ``headers`` (no signature unless they carry one)."""
        assert self._session is not None, "use 'async with SlackPoster(...)'"
        async with self._session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.text()

    async def event(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        return await self.post(json.dumps(payload).encode(), "application/json", **kwargs)

    async def interactive(self, payload: dict[str, Any], **kwargs: Any) -> tuple[int, str]:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, "application/x-www-form-urlencoded", **kwargs)

    async def command(self, fields: dict[str, str], **kwargs: Any) -> tuple[int, str]:
        body = urllib.parse.urlencode(fields).encode()
        return await self.post(body, "application/x-www-form-urlencoded", **kwargs)


# -- payloads as Slack sends them ----------------------------------------------------------


def event(
    text: str,
    *,
    user: str,
    ts: str,
    event_id: str,
    channel: str = "C0DEPLOYS",
    thread_ts: str | None = None,
    kind: str = "app_mention",
    **extra: Any,
) -> dict[str, Any]:
    """An Events API callback: ``app_mention`` (the default) or ``message``."""
    inner: dict[str, Any] = {"type": kind, "user": user, "text": text, "ts": ts}
    inner |= {"channel": channel, "event_ts": ts, "team": TEAM, **extra}
    if thread_ts is not None:
        inner["thread_ts"] = thread_ts
    return {
        "token": "legacy-unused",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "event": inner,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def click(
    action_id: str,
    value: str,
    *,
    user: str,
    channel: str,
    message_ts: str,
    thread_ts: str,
    action_ts: str = "1700000099.000001",
    trigger_id: str = "trigger-1",
) -> dict[str, Any]:
    """A ``block_actions`` payload: a click on one button of a message in a thread."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TEST",
        "trigger_id": trigger_id,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
            "thread_ts": thread_ts,
        },
        "channel": {"id": channel, "name": "deploys"},
        "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts},
        "response_url": "https://hooks.slack.invalid/actions/unused",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "decision",
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }


def home_opened(user: str, *, event_id: str, tab: str = "home") -> dict[str, Any]:
    """An ``app_home_opened`` Events API callback (``tab``: home, messages or about)."""
    return {
        "token": "legacy-unused",
        "team_id": TEAM,
        "api_app_id": "A0TEST",
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D0{user}",
            "tab": tab,
            "event_ts": "1700000000.000100",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
    }


def home_click(
    action_id: str,
    value: str,
    *,
    user: str,
    action_ts: str,
    trigger_id: str = "trigger-home",
    view_id: str = "V0HOME",
) -> dict[str, Any]:
    """A ``block_actions`` payload: a click on a button of the App Home (a view, no message)."""
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "username": user.lower(), "team_id": TEAM},
        "api_app_id": "A0TEST",
        "trigger_id": trigger_id,
        "container": {"type": "view", "view_id": view_id},
        "view": {"id": view_id, "type": "home", "callback_id": "", "private_metadata": ""},
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "decide",
                "value": value,
                "action_ts": action_ts,
            }
        ],
    }


def reject_submission(
    *, user: str, private_metadata: str, reason: str, view_id: str = "V0TEST"
) -> dict[str, Any]:
    """A ``view_submission`` of the reject-reason modal."""
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "test"},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0TEST",
        "view": {
            "id": view_id,
            "type": "modal",
            "callback_id": "deploybot_reject_reason",
            "private_metadata": private_metadata,
            "state": {"values": {"reason": {"reason_input": {"value": reason}}}},
            "hash": "1700000000.abcdef",
        },
    }


def slash(text: str, *, user: str, channel: str = "C0DEPLOYS", trigger_id: str) -> dict[str, str]:
    """The form fields of a ``/deploy`` slash command."""
    return {
        "token": "legacy-unused",
        "team_id": TEAM,
        "team_domain": "test",
        "channel_id": channel,
        "channel_name": "deploys",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/deploy",
        "text": text,
        "api_app_id": "A0TEST",
        "response_url": "https://hooks.slack.invalid/commands/unused",
        "trigger_id": trigger_id,
    }
