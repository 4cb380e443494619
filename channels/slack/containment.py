"""Slack requests that cannot be handled: set aside, never fatal, never retried for ever.

The HTTP route refuses what is over its caps before anything parses it (too large, nested
too deeply, not a Slack payload); the listeners run every parser and every step that
builds an event under ``Containment``. What raises there is a bug met on an input, not an
outage: it is set aside (a log line, ``deploybot_inputs_set_aside_total{channel="slack"}``,
an audit record) and acknowledged, so Slack does not send the same payload again and again.
Redis being away is an outage: it propagates, Slack gets a 500 and retries later, as the
stream must hold an event before Slack is told it arrived.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TypeVar

from bot.core.errors import StoreError
from bot.core.ports.audit import SetAsideLog
from bot.core.thread.set_aside import SetAside, SetAsideReason

__all__ = ["Containment", "payload_ref"]

log = logging.getLogger("deploybot.slack")

T = TypeVar("T")


def payload_ref(body: Mapping[str, object] | None) -> str:
    """Which payload, in a few safe words: its event id, trigger id or type."""
    if not isinstance(body, Mapping):
        return "slack request"
    for name in ("event_id", "trigger_id", "type"):
        value = body.get(name)
        if isinstance(value, str) and value:
            return f"{name} {value[:80]}"
    return "slack request"


class Containment:
    def __init__(self, *, set_aside: SetAsideLog, clock: Callable[[], datetime]) -> None:
        self._set_aside = set_aside
        self._clock = clock

    async def refused(self, *, reason: SetAsideReason, ref: str, detail: str) -> None:
        """Record a request the route refused (it answers anyway: never raises)."""
        item = SetAside(at=self._clock(), channel="slack", reason=reason, ref=ref, detail=detail)
        await self._set_aside.record_quietly(item)

    async def parse(self, parse: Callable[[], T], *, ref: str) -> T | None:
        """``parse()``, or None (set aside) when it raises."""
        try:
            return parse()
        except Exception as exc:  # a payload our pure parser cannot read: contained
            log.exception("slack: reading %s failed", ref)
            detail = f"reading it raised {type(exc).__name__}"
            await self.refused(reason="parser_failed", ref=ref, detail=detail)
            return None

    async def run(self, step: Awaitable[T], *, ref: str) -> T | None:
        """``await step``; None (set aside) when it raised anything but a Redis outage."""
        try:
            return await step
        except (StoreError, OSError):
            raise  # Slack gets a 500 and retries: nothing was accepted
        except Exception as exc:  # what the payload made us build failed: contained
            log.exception("slack: handling %s failed", ref)
            detail = f"handling it raised {type(exc).__name__}"
            await self.refused(reason="handler_failed", ref=ref, detail=detail)
            return None
