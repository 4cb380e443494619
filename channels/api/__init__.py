"""The HTTP API channel: ``/v1/threads`` (launch, query, resume) and signed webhooks.

``bodies`` (request and response models), ``auth`` (bearer token, HMAC signature),
``resume`` (is the thread waiting for this, may this person say it), ``webhook`` (filling an
instruction from a payload), ``openapi`` (the schema served at ``/openapi.json``), ``edge``
(what every route shares: the auth check, the body cap, error answers) and ``channel`` (the
Starlette routes).
"""

from collections.abc import Callable
from datetime import datetime

from starlette.routing import BaseRoute

from bot.core.config.config import Config
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.inbound import InboundQueue
from bot.shell.streams.set_aside import SetAsideInputs

from .channel import ApiChannel

__all__ = ["ApiChannel", "api_routes"]


def api_routes(
    *,
    config: Config,
    queue: InboundQueue,
    store: ThreadStore,
    api_token: str | None,
    webhook_secret: str | None,
    clock: Callable[[], datetime],
    new_id: Callable[[], str],
    set_aside: SetAsideInputs | None = None,
) -> list[BaseRoute]:
    """The API's routes, for ``bot.app.webapp.build_web_app``. ``set_aside`` records the
    requests that could not be handled (for /metrics and the audit)."""
    return ApiChannel(
        config=config,
        queue=queue,
        store=store,
        api_token=api_token,
        webhook_secret=webhook_secret,
        clock=clock,
        new_id=new_id,
        set_aside=set_aside,
    ).routes()
