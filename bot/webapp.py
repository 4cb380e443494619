"""The HTTP side of ``deploybot web`` (wiring): health, metrics and each channel's routes.

Channels contribute their own routes (``channels.api``: the ``/v1`` API and webhooks;
``channels.slack``: ``/slack/events``); this module only puts them behind one Starlette app.
"""

import time
from collections.abc import Sequence

from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.bootstrap import App

__all__ = ["build_web_app", "metrics_text"]


async def metrics_text(app: App) -> str:
    """Prometheus text format: what an operator graphs and alerts on."""
    lag = await app.queue.lag()
    dead = len(await app.queue.dead_letters(count=10_000))
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
        pending = await app.outbox.pending(channel)
        lines.append(f'deploybot_outbox_pending{{channel="{channel}"}} {pending}')
    return "\n".join(lines) + "\n"


def build_web_app(app: App, *, routes: Sequence[BaseRoute] = ()) -> Starlette:
    started = time.monotonic()

    async def healthz(_request: Request) -> Response:
        try:
            await app.redis.ping()
            lag = await app.queue.lag()
        except (RedisError, OSError) as exc:
            return JSONResponse({"ok": False, "redis": f"unreachable: {exc}"}, status_code=503)
        return JSONResponse(
            {
                "ok": True,
                "redis": "ok",
                "stream_lag": lag,
                "uptime_s": round(time.monotonic() - started, 1),
            }
        )

    async def metrics(_request: Request) -> Response:
        try:
            body = await metrics_text(app)
        except (RedisError, OSError) as exc:
            return PlainTextResponse(f"# redis unreachable: {exc}\n", status_code=503)
        return PlainTextResponse(body, media_type="text/plain; version=0.0.4")

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *routes,
        ]
    )
