"""Redaction: keep secrets out of logs, prompts and messages (invariant 8).

``redact`` masks, in this order:

1. the secret values deploybot knows (its settings), wherever they appear, and the start or
   the end of one at the edges of the text: a text is often a piece cut from a longer one
   (a 64 KiB line split by the deployer, a tail), and a secret cut in two must not leak
   either half;
2. everything shaped like a credential, from one table of named patterns
   (``bot.core.wording.secret_shapes.SHAPES``: provider tokens, PEM private keys, ``Authorization``
   and ``Cookie`` headers, URLs with user info, ``password=...`` in its many spellings).

Every masked value reads ``MASK``; it is defined beside the shapes (they must recognise it)
and exported here too, as part of what ``redact`` promises.

``compact_tail`` turns a command's output into a few short, clean lines fit for a chat message
or a prompt: redact first, then compact (a cut can only shorten what is already masked).
"""

import functools
import re
from collections.abc import Callable, Iterable

from bot.core.thread.text.outside import inert
from bot.core.wording.secret_shapes import CUT_TOKEN, MASK, SHAPES

__all__ = [
    "MASK",
    "SECRET_ENV_NAMES",
    "compact_tail",
    "redact",
    "strip_ansi",
]

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
_EDGE_CHARS = 512  # how far from a text's end a cut token is looked for
_LINE_CHARS = 200
_ELLIPSIS = "…"


@functools.lru_cache(maxsize=32)
def _secrets_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    if not secrets:
        return None
    # Longest first, so a secret that contains another is replaced whole.
    ordered = sorted(secrets, key=len, reverse=True)
    return re.compile("|".join(re.escape(s) for s in ordered))


def _mask_value(match: re.Match[str]) -> str:
    start, end = match.span("value")
    value = match["value"]
    quote = value[0] if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0] else ""
    whole, offset = match[0], match.start()
    return whole[: start - offset] + quote + MASK + quote + whole[end - offset :]


_MASK_VALUE: Callable[[re.Match[str]], str] = _mask_value

# Every shape's hints in one pattern: a short text without any skips the shapes at once (one
# search instead of a containment test per hint). On long texts the tests per hint are faster.
_ANY_HINT = re.compile("|".join(re.escape(h) for s in SHAPES for h in s.hints))
_GATE_CHARS = 128


def _cut_edges(text: str, secrets: tuple[str, ...]) -> str:
    """Mask the end of ``text`` if it is the start of a secret, and its start if it is the
    end of one (at least 4 characters): what is left of a secret cut in two."""
    for secret in secrets:
        for chars in range(min(len(secret) - 1, len(text)), _MIN_SECRET_CHARS - 1, -1):
            if text.endswith(secret[:chars]):
                text = text[:-chars] + MASK
                break
        for chars in range(min(len(secret) - 1, len(text)), _MIN_SECRET_CHARS - 1, -1):
            if text.startswith(secret[-chars:]):
                text = MASK + text[chars:]
                break
    head, tail = text[:-_EDGE_CHARS], text[-_EDGE_CHARS:]
    return head + CUT_TOKEN.sub(MASK, tail)


def redact(text: str, *, secrets: Iterable[str]) -> str:
    """``text`` with every secret value and every credential-shaped string masked.

    ``text`` may be a piece cut from a longer text: a known secret's start at its end, or
    its end at its start, is masked too, and so is a token's start at its end. Values
    shorter than 4 characters are ignored: masking ``"1"`` everywhere would destroy the
    text and protect nothing.
    """
    known = tuple(sorted({s for s in secrets if len(s) >= _MIN_SECRET_CHARS}))
    pattern = _secrets_pattern(known)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _cut_edges(text, known)
    lowered = text.lower()
    if len(lowered) <= _GATE_CHARS and _ANY_HINT.search(lowered) is None:
        return text  # no shape's hint, so no shape can match
    for shape in SHAPES:
        if any(hint in lowered for hint in shape.hints):
            text = shape.pattern.sub(_MASK_VALUE, text)
    return text


def strip_ansi(text: str) -> str:
    """``text`` without terminal escape codes, control, bidi and zero-width characters (tabs
    and newlines stay; ``bot.core.thread.text.outside.inert``), so nothing hidden in it can split a
    secret that ``redact`` then would not recognise.

    A carriage return (progress bars) keeps only what was drawn last on the line.
    """
    lines = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]
    return inert("\n".join(lines), multiline=True, tabs=True)


def _truncate(line: str, max_chars: int) -> str:
    if len(line) <= max_chars:
        return line
    return line[: max(max_chars - len(_ELLIPSIS), 0)] + _ELLIPSIS


def compact_tail(
    text: str, *, max_lines: int = 5, max_chars: int = 500, secrets: Iterable[str] = ()
) -> str:
    """The last non-empty lines of ``text``: no escape codes, redacted, each line cut to
    200 characters, at most ``max_lines`` lines and ``max_chars`` characters in all.

    Each kept line is redacted (credential shapes, and ``secrets``) before it is cut, so a
    cut never leaves half a secret. Redact the whole text first where a secret can span
    lines (a PEM key). When the lines are too long together, the oldest are dropped first;
    a single remaining line is cut at its end (the start of an error message says the most).
    """
    if max_lines <= 0 or max_chars <= 0:
        return ""
    lines = [line.rstrip() for line in strip_ansi(text).split("\n")]
    kept = [line for line in lines if line.strip()][-max_lines:]
    kept = [_truncate(redact(line, secrets=secrets), min(_LINE_CHARS, max_chars)) for line in kept]
    while len(kept) > 1 and len("\n".join(kept)) > max_chars:
        kept.pop(0)
    return _truncate("\n".join(kept), max_chars)
