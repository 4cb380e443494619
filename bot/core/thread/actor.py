"""Who acted: a channel and that channel's own id for them. Pure.

``slack:U0ALICE``, ``email:alice@example.com``, ``api:carol``, ``terminal:carol`` (people),
``schedule:nightly``, ``webhook:ci`` (machines the config names). An ``Actor`` is parsed once,
at the edge where a channel builds the event (``Actor.of``, or ``Actor(text)`` for a string
it received), and used typed after that: ``actor.channel`` and ``actor.id``, never split
again. A string that is not one (an unknown channel; an empty id, or one with a space or an
unprintable character: no channel's ids have them) is refused with ``ActorError``, saying
why; an edge turns that into a refusal, never a crash.

An actor is also the string it was parsed from: events store it, compare it and show it as
before, so threads stored by older code load unchanged (their strings are parsed on load).
"""

from typing import Any, Final, Literal, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from bot.core.errors import DeploybotError

__all__ = ["CHANNELS", "Actor", "ActorError", "Channel"]

Channel = Literal["slack", "email", "api", "terminal", "schedule", "webhook"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
_MAX_ID = 320  # the longest email address


class ActorError(DeploybotError, ValueError):
    """A string that is not ``channel:id``; the message says what is wrong."""


def _problem(channel: str, sep: str, ident: str) -> str | None:
    if not sep:
        return "no channel: expected channel:id"
    if channel not in CHANNELS:
        return f"unknown channel; one of {', '.join(CHANNELS)}"
    if not ident:
        return "empty id"
    if len(ident) > _MAX_ID:
        return f"id longer than {_MAX_ID} characters"
    if not ident.isprintable() or any(c.isspace() for c in ident):
        return "id with a space or unprintable characters"
    return None


class Actor(str):
    """``channel:id``, parsed: ``channel`` and ``id`` are its two parts."""

    channel: Channel
    id: str

    def __new__(cls, text: str) -> "Actor":
        channel, sep, ident = text.partition(":")
        problem = _problem(channel, sep, ident)
        if problem is not None:
            raise ActorError(f"not an actor ({problem}): {text[:80]!r}")
        actor = super().__new__(cls, text)
        actor.channel = channel  # type: ignore[assignment]  # checked by _problem
        actor.id = ident
        return actor

    @classmethod
    def of(cls, channel: Channel, ident: str) -> "Actor":
        """The actor ``ident`` on ``channel``; ``ActorError`` when ``ident`` is no id."""
        return cls(f"{channel}:{ident}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """In a model: validated from its string, stored as that string."""
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(), serialization=core_schema.to_string_ser_schema()
        )
