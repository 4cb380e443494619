"""Structured logs: one JSON object per line, carrying the thread being worked on.

The worker sets ``current_thread`` while it handles a thread's entry; every log line
written meanwhile (by deploybot or a library) names that thread, so one grep follows a
request through every process. Secrets are redacted from every line, in both formats: the
message, the traceback, the stack and every ``extra=`` field (a dict or list is redacted as
JSON, so ``{"password": ...}`` is masked by its key). A line is cut to 64 KiB only after it
is redacted, so a cut never leaves half a secret.

Logged text may come from outside (a commit subject, a command's output, an email subject).
A JSON line is written with every character outside printable ASCII escaped (``\u001b``,
``\u202e``), so no log reader's terminal acts on it; the plain-text format shows such a
character as its code (``\x1b``, ``\u202e``) for the same reason, keeping line breaks and tabs.
"""

import contextvars
import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.core.wording.redact import redact

__all__ = [
    "MAX_FIELD_CHARS",
    "JsonFormatter",
    "RedactingFormatter",
    "configure_logging",
    "current_thread",
    "visible",
]

current_thread: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "deploybot_thread", default=None
)

#: The longest message, traceback or extra field written (after redaction).
MAX_FIELD_CHARS = 64 * 1024
_CUT_NOTE = "… [cut]"
_MAX_DEPTH = 20
_UNSAFE = re.compile(r"[^\t\n\x20-\x7e]")
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")  # invisible letters

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _code(match: re.Match[str]) -> str:
    ch = match[0]
    if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp") and ch not in _FILLERS:
        return ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def visible(text: str) -> str:
    """``text`` for a terminal: control, format (bidi, zero-width) and separator characters
    written as their codes; line breaks and tabs kept."""
    return _UNSAFE.sub(_code, text)


def _cut(text: str) -> str:
    if len(text) <= MAX_FIELD_CHARS:
        return text
    return text[: MAX_FIELD_CHARS - len(_CUT_NOTE)] + _CUT_NOTE


class JsonFormatter(logging.Formatter):
    def __init__(self, *, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def _clean(self, text: str) -> str:
        return _cut(redact(text, secrets=self._secrets))

    def _clean_leaves(self, value: object, depth: int = 0) -> object:
        if depth > _MAX_DEPTH:  # deep or circular: its text, redacted
            return self._clean(repr(value)[:MAX_FIELD_CHARS])
        match value:
            case str():
                return self._clean(value)
            case dict():
                return {str(k): self._clean_leaves(v, depth + 1) for k, v in value.items()}
            case list() | tuple() | set() | frozenset():
                return [self._clean_leaves(item, depth + 1) for item in value]
            case _:
                return value

    def _clean_extra(self, name: str, value: object) -> tuple[str, object]:
        """An ``extra=`` field, redacted as the JSON of ``{name: value}``, so a secret is
        masked by its key as well as by its shape (``extra={"password": x}``); each string
        in it is redacted first, as text (in JSON its quotes would be escaped)."""
        try:
            as_json = json.dumps({name: self._clean_leaves(value)}, default=str)
        except (TypeError, ValueError):  # e.g. a circular structure
            return self._clean(name), self._clean(str(value))
        cleaned = self._clean(as_json)
        try:
            parsed = json.loads(cleaned)
        except ValueError:  # the cut broke the JSON: keep it as text
            return self._clean(name), cleaned
        assert isinstance(parsed, dict)
        assert len(parsed) == 1
        ((key, clean_value),) = parsed.items()
        return str(key), clean_value

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._clean(record.getMessage()),
        }
        if (thread := current_thread.get()) is not None:
            line["thread"] = thread
        if record.exc_info:
            line["error"] = self._clean(self.formatException(record.exc_info))
        elif record.exc_text:
            line["error"] = self._clean(record.exc_text)
        if record.stack_info:
            line["stack"] = self._clean(self.formatStack(record.stack_info))
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in line:
                key, clean_value = self._clean_extra(name, value)
                line[key] = clean_value
        # ensure_ascii: every control, bidi or other non-ASCII character is a \u escape.
        return json.dumps(line, separators=(",", ":"), default=str, ensure_ascii=True)


class RedactingFormatter(logging.Formatter):
    """The plain-text format for interactive commands, redacted like the JSON lines."""

    def __init__(self, fmt: str, *, secrets: Sequence[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return visible(_cut(redact(super().format(record), secrets=self._secrets)))


def configure_logging(*, level: str, json_lines: bool, secrets: Sequence[str]) -> None:
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter(secrets=secrets))
    else:
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets=secrets)
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
