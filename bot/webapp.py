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
from bot.metrics import prometheus_line

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
    lines += [
        "# HELP deploybot_outbox_undeliverable Messages a channel refused for good, set aside.",
        "# TYPE deploybot_outbox_undeliverable gauge",
        f"deploybot_outbox_undeliverable {await app.outbox.set_aside()}",
        "# HELP deploybot_approvals_waiting Approval requests open (not decided or expired).",
        "# TYPE deploybot_approvals_waiting gauge",
        f"deploybot_approvals_waiting {await app.timers.waiting_approvals()}",
    ]
    counters = await app.metrics.counters()
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
}


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

    async def not_found(_request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        reason = {404: "no such route", 405: "method not allowed"}.get(status, "error")
        return JSONResponse({"error": reason}, status_code=status)

    return Starlette(
        exception_handlers={404: not_found, 405: not_found},
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *routes,
        ],
    )
