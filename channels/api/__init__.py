"""The HTTP API channel: ``/v1/threads`` (launch, query, resume) and signed webhooks.

``bodies`` (request and response models), ``auth`` (bearer token, HMAC signature),
``launch`` (release policy's typed fields as the deploy command's words), ``resume`` (is the
thread waiting for this, may this person say it), ``waiting`` (a queued thread's wait, as
shown), ``webhook`` (filling an instruction from a payload), ``openapi`` (the schema served
at ``/openapi.json``), ``edge`` (what every route shares: the auth check, the body cap, error
answers) and ``channel`` (the Starlette routes).
"""

from collections.abc import Callable
from datetime import datetime

from starlette.routing import BaseRoute

from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts

from .channel import ApiChannel

__all__ = ["ApiChannel", "api_routes"]


def api_routes(
    *,
    config: Config,
    ports: ChannelPorts,
    api_token: str | None,
    webhook_secret: str | None,
    clock: Callable[[], datetime],
    new_id: Callable[[], str],
) -> list[BaseRoute]:
    """The API's routes, for ``bot.app.webapp.build_web_app``. Requests that could not be
    handled are recorded through ``ports.set_aside`` (for /metrics and the audit)."""
    return ApiChannel(
        config=config,
        ports=ports,
        api_token=api_token,
        webhook_secret=webhook_secret,
        clock=clock,
        new_id=new_id,
    ).routes()
