"""The HTTP side of ``deploybot web`` (wiring): health, metrics and each channel's routes.

Channels contribute their own routes (``channels.api``: the ``/v1`` API and webhooks;
``channels.slack``: ``/slack/events``); this module only puts them behind one Starlette app.

Every request body is capped before anyone reads it (``BodyCap``, around every route): a
``Content-Length`` over the cap is answered 413 at once, without reading the body; a body
without one (chunked) is counted as it streams and refused as soon as it passes the cap, so
at most the cap (plus one chunk) is ever held. The caps (``BODY_CAPS``, by path prefix):

| path            | cap     | why                                                        |
|-----------------|---------|------------------------------------------------------------|
| ``/slack/``     | 1 MiB   | Slack's events and payloads are a few KiB                  |
| ``/v1/``        | 64 KiB  | the API's JSON bodies and webhooks (the API's own cap too) |
| anything else   | 64 KiB  | ``/healthz`` and ``/metrics`` take no body at all          |
"""

import time
from collections.abc import Callable, Sequence

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.app.bootstrap import App
from bot.shell.runtime.metrics import freeze_lines, prometheus_line

__all__ = ["BODY_CAPS", "DEFAULT_BODY_CAP_BYTES", "BodyCap", "build_web_app", "metrics_text"]

DEFAULT_BODY_CAP_BYTES = 64 * 1024
BODY_CAPS: dict[str, int] = {"/slack/": 1024 * 1024, "/v1/": 64 * 1024}


def body_cap_bytes(path: str) -> int:
    """The largest body a request to ``path`` may send."""
    for prefix, cap in BODY_CAPS.items():
        if path.startswith(prefix):
            return cap
    return DEFAULT_BODY_CAP_BYTES


class _TooLarge(Exception):
    pass


class BodyCap:
    """ASGI middleware: 413 for a body over ``cap_for(path)``, decided before it is read."""

    def __init__(self, app: ASGIApp, cap_for: Callable[[str], int] = body_cap_bytes) -> None:
        self.app = app
        self.cap_for = cap_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(str(scope["path"]))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "Content-Length is not a number")
                return
            if int(declared) > cap:
                await _refuse(send, 413, f"the body is larger than {cap} bytes")
                return
        received = 0
        too_large = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    too_large = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the app's own answer to the interrupted read: ours goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not too_large:  # whatever the app made of the interrupted read, ours answers
                raise
        if too_large and not started:
            await _refuse(send, 413, f"the body is larger than {cap} bytes")


async def _refuse(send: Send, status: int, error: str) -> None:
    response = JSONResponse({"error": error}, status_code=status, headers={"Connection": "close"})
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


async def metrics_text(app: App) -> str:
    """Prometheus text format: what an operator graphs and alerts on."""
    lag = await app.context.queue.lag()
    dead = len(await app.context.queue.dead_letters(count=10_000))
    lines = [
        "# HELP deploybot_inbound_lag Inbound events not yet acknowledged by a worker.",
        "# TYPE deploybot_inbound_lag gauge",
        f"deploybot_inbound_lag {lag}",
        "# HELP deploybot_dead_letters Inbound events set aside after failing repeatedly.",
        "# TYPE deploybot_dead_letters gauge",
        f"deploybot_dead_letters {dead}",
        "# HELP deploybot_outbox_pending Messages waiting to be delivered, per channel.",
        "# TYPE deploybot_outbox_pending gauge",
    ]
    for channel in ("slack", "email", "api", "schedule"):
        pending = await app.context.outbox.pending(channel)
        lines.append(f'deploybot_outbox_pending{{channel="{channel}"}} {pending}')
    lines += [
        "# HELP deploybot_outbox_undeliverable Messages a channel refused for good, set aside.",
        "# TYPE deploybot_outbox_undeliverable gauge",
        f"deploybot_outbox_undeliverable {await app.context.outbox.set_aside()}",
        "# HELP deploybot_approvals_waiting Approval requests open (not decided or expired).",
        "# TYPE deploybot_approvals_waiting gauge",
        f"deploybot_approvals_waiting {await app.timers.waiting_approvals()}",
        *freeze_lines(app.context.config.freezes, at=app.context.clock.now()),
    ]
    counters = await app.context.metrics.counters()
    for name, what in _COUNTERS.items():
        lines += [f"# HELP deploybot_{name} {what}", f"# TYPE deploybot_{name} counter"]
        fields = sorted(f for f in counters if f.partition("|")[0] == name)
        lines += [prometheus_line(f, counters[f]) for f in fields] or [f"deploybot_{name} 0"]
    return "\n".join(lines) + "\n"


_COUNTERS = {
    "deploys_total": "Deploys and rollbacks finished, by result.",
    "model_calls_total": "Calls to the model (including failed ones).",
    "model_tokens_total": "Tokens sent to and received from the model.",
    "approvals_requested_total": "Approval requests made.",
    "approvals_decided_total": "Approval decisions recorded, by decision.",
    "redis_data_lost_total": "Times a worker found Redis had lost its data (and repaired it).",
    "email_refused_total": "Emails ignored because our mail servers did not vouch for the "
    "sender, by reason.",
    "inputs_set_aside_total": "Inputs a channel could not handle and set aside (too large, "
    "nested too deeply, failing every time, ...), by channel and reason.",
}


def build_web_app(app: App, *, routes: Sequence[BaseRoute] = ()) -> Starlette:
    started = time.monotonic()

    async def healthz(_request: Request) -> Response:
        """200 only when Redis answers and every task of this process is well; else 503,
        saying which: ``{"ok": false, "redis": "...", "tasks": {"worker": "ok", ...}}``."""
        tasks = app.tasks.health()
        body: dict[str, object] = {"ok": False, "redis": "ok", "tasks": tasks.tasks}
        try:
            await app.redis.ping()
            body["stream_lag"] = await app.context.queue.lag()
        except (RedisError, OSError) as exc:
            body["redis"] = f"unreachable: {type(exc).__name__}: {exc}"
        body["ok"] = body["redis"] == "ok" and tasks.ok
        body["uptime_s"] = round(time.monotonic() - started, 1)
        return JSONResponse(body, status_code=200 if body["ok"] else 503)

    async def metrics(_request: Request) -> Response:
        try:
            body = await metrics_text(app)
        except (RedisError, OSError) as exc:
            return PlainTextResponse(f"# redis unreachable: {exc}\n", status_code=503)
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    async def not_found(_request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        reason = {404: "no such route", 405: "method not allowed"}.get(status, "error")
        return JSONResponse({"error": reason}, status_code=status)

    return Starlette(
        middleware=[Middleware(BodyCap)],
        exception_handlers={404: not_found, 405: not_found},
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *routes,
        ],
    )
