"""Structured logs: one JSON object per line, carrying the thread being worked on.

The worker sets ``current_thread`` while it handles a thread's entry; every log line
written meanwhile (by deploybot or a library) names that thread, so one grep follows a
request through every process. Secrets are redacted from every line.
"""

import contextvars
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.redact import redact

__all__ = ["JsonFormatter", "configure_logging", "current_thread"]

current_thread: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "deploybot_thread", default=None
)


class JsonFormatter(logging.Formatter):
    def __init__(self, *, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage(), secrets=self._secrets),
        }
        if (thread := current_thread.get()) is not None:
            line["thread"] = thread
        if record.exc_info:
            line["error"] = redact(self.formatException(record.exc_info), secrets=self._secrets)
        return json.dumps(line, separators=(",", ":"))


def configure_logging(*, level: str, json_lines: bool, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter(secrets=secrets))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
