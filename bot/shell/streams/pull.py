"""Origins nobody pushes replies to, and how their outboxes are emptied.

API clients read their replies with ``GET /v1/threads/{id}``, and schedules without a
channel to report to leave theirs in the thread and the logs; a worker still delivers their
outbox streams (``PULL_CHANNELS``), or they would only grow, with ``LogSender``: one log line
per message (logger ``deploybot.outbox``, with the thread id).
"""

import logging

from bot.core.ports.outbound import OutboundMessage

__all__ = ["PULL_CHANNELS", "LogSender"]

PULL_CHANNELS = ("api", "schedule")

log = logging.getLogger("deploybot.outbox")


class LogSender:
    """Delivers by logging (one JSON line with the thread id), for pull-only origins."""

    async def send(self, message: OutboundMessage) -> None:
        log.info(
            "message for %s thread %s (%s): %s",
            message.origin.kind,
            message.thread_id,
            message.purpose,
            message.text.splitlines()[0] if message.text else "",
        )
