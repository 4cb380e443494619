"""The value types of the settings: each checks one kind of environment value.

Reusable ``Annotated`` types (a port, a flag, a URL, one word, ...) whose validators turn a
bad value into a one-line ``expected ...`` message, so every variable of the same kind is
refused in the same words. ``bot.app.settings`` names the variables; this says what a
valid value of each kind looks like.
"""

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator

__all__ = [
    "Address",
    "AuthservIds",
    "Flag",
    "Format",
    "Host",
    "HttpUrl",
    "KeyPrefix",
    "Level",
    "LogFormat",
    "LogLevel",
    "Port",
    "PositiveSeconds",
    "RedisUrl",
    "Seconds",
    "Word",
    "whole",
]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "text"]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_HOST = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]+\]?")
_ADDRESS = re.compile(r"[^@\s<>\",;()]+@[^@\s<>\",;()]+")
_WORD = re.compile(r"[^\s;{}\"']+")
# A Redis key prefix: keys are "<prefix>:..." with {thread id} hash tags after it, so no
# spaces, braces or wildcards; 1 to 64 characters.
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _boolean(value: object) -> object:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def whole(minimum: int, maximum: int | None = None, what: str = "a whole number") -> Any:
    """The validator of ``Annotated[int, whole(...)]``: digits only, from ``minimum`` (to
    ``maximum``), refused in the words of ``what``."""

    def check(value: object) -> object:
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,12}", text):
            raise ValueError(_expected_range(what, minimum, maximum))
        number = int(text)
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError(_expected_range(what, minimum, maximum))
        return number

    return BeforeValidator(check)


def _expected_range(what: str, minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f"expected {what} of at least {minimum}"
    return f"expected {what} from {minimum} to {maximum}"


def _seconds(value: object) -> object:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not 0 <= number < float("inf"):
        raise ValueError("expected a number of seconds, 0 or more")
    return number


def _positive_seconds(value: object) -> object:
    number = _seconds(value)
    if number == 0:
        raise ValueError("expected a number of seconds above 0")
    return number


def _pattern(regex: re.Pattern[str], expected: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        text = str(value).strip()
        if not regex.fullmatch(text):
            raise ValueError(f"expected {expected}")
        return text

    return check


def _words(value: object) -> object:
    """``mx1.example.com, mx2.example.com``: one or more words, comma-separated; kept as
    ``mx1.example.com,mx2.example.com`` (a string: pydantic-settings would read a list
    from the environment as JSON)."""
    items = [item.strip() for item in str(value).split(",")]
    if not items or not all(_WORD.fullmatch(item) and "," not in item for item in items):
        raise ValueError(
            "expected one word, or several separated by commas (no spaces inside one, "
            "quotes or ;), such as mx1.example.com,mx2.example.com"
        )
    return ",".join(dict.fromkeys(items))


def _url(schemes: tuple[str, ...], example: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        text = str(value).strip()
        parts = urlsplit(text)
        has_place = bool(parts.hostname) or (parts.scheme == "unix" and bool(parts.path))
        if parts.scheme not in schemes or not has_place or any(c.isspace() for c in text):
            raise ValueError(f"expected a URL such as {example}")
        return text

    return check


def _choice(options: tuple[str, ...], *, upper: bool) -> Callable[[object], object]:
    def check(value: object) -> object:
        text = str(value).strip()
        text = text.upper() if upper else text.lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return check


Port = Annotated[int, whole(1, 65535, "a port number")]
Flag = Annotated[bool, BeforeValidator(_boolean)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
PositiveSeconds = Annotated[float, BeforeValidator(_positive_seconds)]
Host = Annotated[
    str, BeforeValidator(_pattern(_HOST, "a host name or IP address (no scheme, no port)"))
]
Address = Annotated[str, BeforeValidator(_pattern(_ADDRESS, "an email address such as a@b.c"))]
Word = Annotated[str, BeforeValidator(_pattern(_WORD, "one word (no spaces, quotes or ;)"))]
AuthservIds = Annotated[str, BeforeValidator(_words)]
HttpUrl = Annotated[str, BeforeValidator(_url(("http", "https"), "https://host.example.com"))]
RedisUrl = Annotated[
    str,
    BeforeValidator(
        _url(("redis", "rediss", "unix"), "redis://127.0.0.1:6379/0 (or rediss://, unix://)")
    ),
]
KeyPrefix = Annotated[
    str,
    BeforeValidator(
        _pattern(_PREFIX, "1-64 letters, digits, '.', '_', '-' or ':' (no spaces or braces)")
    ),
]
Level = Annotated[
    LogLevel,
    BeforeValidator(_choice(("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), upper=True)),
]
Format = Annotated[LogFormat, BeforeValidator(_choice(("json", "text"), upper=False))]
