"""Redaction: keep secrets out of logs, prompts and messages (invariant 6).

``redact`` replaces the secret values deploybot knows about (its own tokens and passwords)
and, as a second net, anything shaped like a credential: Slack and Anthropic tokens, GitHub
tokens, ``Bearer <token>``, ``password=...``-style assignments and the user info of URLs
(``https://user:pass@host``). ``compact_tail`` turns a command's output into a few short,
clean lines fit for a chat message or a prompt.
"""

import functools
import re
from collections.abc import Iterable, Mapping

__all__ = [
    "MASK",
    "SECRET_ENV_NAMES",
    "compact_tail",
    "redact",
    "strip_ansi",
    "without_secrets",
]

MASK = "[REDACTED]"

#: deploybot's own secrets: never handed to a child process, always redacted.
SECRET_ENV_NAMES = frozenset(
    {
        "ANTHROPIC_API_KEY",
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "SMTP_PASSWORD",
        "IMAP_PASSWORD",
        "DEPLOYBOT_SECRET",
        "DEPLOYBOT_API_TOKEN",
    }
)

_MIN_SECRET_CHARS = 4
_LINE_CHARS = 200
_ELLIPSIS = "…"

# (pattern, replacement); applied in order after the known secret values.
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:pass@host -> scheme://[REDACTED]@host; for http(s) any user info
    # (https://<token>@github.com is a common way to pass a token).
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@:]*:[^/\s]*@"), rf"\1{MASK}@"),
    (re.compile(r"\b(https?://)[^/\s@:]+@"), rf"\1{MASK}@"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]+"), MASK),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), MASK),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]+"), MASK),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), MASK),
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1{MASK}"),
    # password=..., DB_PASSWORD="...", api_key='...', token=... (in URLs too: ?token=...)
    (
        re.compile(
            r"\b(\w*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key))"
            r"(\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s&;,\"']+)",
            re.IGNORECASE,
        ),
        rf"\1\2{MASK}",
    ),
)

_ANSI = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC ... BEL / ST (titles, hyperlinks)
    r"|\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@functools.lru_cache(maxsize=32)
def _secrets_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first, so a secret that contains another is replaced whole.
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str, *, secrets: Iterable[str]) -> str:
    """``text`` with every secret value and every credential-shaped string masked.

    Values shorter than 4 characters are ignored: masking ``"1"`` everywhere would destroy
    the text and protect nothing.
    """
    known = tuple(sorted({s for s in secrets if len(s) >= _MIN_SECRET_CHARS}))
    pattern = _secrets_pattern(known)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape codes and control characters (tabs and newlines stay).

    A carriage return (progress bars) keeps only what was drawn last on the line.
    """
    text = _ANSI.sub("", text)
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    return _CONTROL.sub("", "\n".join(lines))


def _truncate(line: str, max_chars: int) -> str:
    if len(line) <= max_chars:
        return line
    return line[: max(max_chars - len(_ELLIPSIS), 0)] + _ELLIPSIS


def compact_tail(text: str, *, max_lines: int = 5, max_chars: int = 500) -> str:
    """The last non-empty lines of ``text``: no escape codes, each line cut to 200 characters,
    at most ``max_lines`` lines and ``max_chars`` characters in all.

    When the lines are too long together, the oldest are dropped first; a single remaining
    line is cut at its end (the start of an error message usually says the most).
    """
    if max_lines <= 0 or max_chars <= 0:
        return ""
    lines = [line.rstrip() for line in strip_ansi(text).split("\n")]
    kept = [_truncate(line, min(_LINE_CHARS, max_chars)) for line in lines if line.strip()]
    kept = kept[-max_lines:]
    while len(kept) > 1 and len("\n".join(kept)) > max_chars:
        kept.pop(0)
    return _truncate("\n".join(kept), max_chars)


def without_secrets(env: Mapping[str, str], *, secrets: Iterable[str] = ()) -> dict[str, str]:
    """A copy of ``env`` without deploybot's own secrets (``SECRET_ENV_NAMES``) and without
    any variable whose value is one of ``secrets``."""
    values = {s for s in secrets if len(s) >= _MIN_SECRET_CHARS}
    return {
        name: value
        for name, value in env.items()
        if name not in SECRET_ENV_NAMES and value not in values
    }
