"""The HTTP API channel: ``/v1/threads`` (launch, query, resume) and signed webhooks."""

from collections.abc import Callable
from datetime import datetime

from starlette.routing import BaseRoute

from bot.config import Config
from bot.inbound import InboundQueue
from bot.store import ThreadStore

__all__ = ["api_routes"]


def api_routes(
    *,
    config: Config,
    queue: InboundQueue,
    store: ThreadStore,
    api_token: str | None,
    webhook_secret: str | None,
    clock: Callable[[], datetime],
    new_id: Callable[[], str],
) -> list[BaseRoute]:
    raise NotImplementedError("being written")
