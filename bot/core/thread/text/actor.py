"""Who acted: a channel and that channel's own id for them. Pure.

``slack:U0ALICE``, ``email:alice@example.com``, ``api:carol``, ``terminal:carol`` (people),
``schedule:nightly``, ``webhook:ci`` (machines the config names). An ``Actor`` is parsed once,
at the edge where a channel builds the event (``Actor.of``, or ``Actor(text)`` for a string
it received), and used typed after that: ``actor.channel`` and ``actor.id``, never split
again. A string that is not one (an unknown channel; an empty id, or one with a space or an
unprintable character: no channel's ids have them) is refused with ``ActorError``, saying
why; an edge turns that into a refusal, never a crash.

An actor is also the string it was parsed from: events store it, compare it and show it as
before. What was stored is read back leniently (``Actor.recorded``; models read it so under
the ``RECORDED`` validation context, which the thread codec and the streams pass): older code
wrote whatever its edges were given after the channel (a terminal user name with a space from
``--user`` or ``$USER``, an email address with a quoted local part, a webhook name as the
config spelled it), so a stored actor needs only one of the channels above. Every writer in
the history of this repository wrote one of them (``git log -S 'actor=f"'``); a string
without one was never stored and is still refused.
"""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from bot.core.errors import DeploybotError

__all__ = ["CHANNELS", "RECORDED", "Actor", "ActorError", "Channel"]

Channel = Literal["slack", "email", "api", "terminal", "schedule", "webhook"]
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
_MAX_ID = 320  # the longest email address
#: The validation context under which models read stored data: actors as ``Actor.recorded``.
RECORDED: Final[Mapping[str, bool]] = MappingProxyType({"recorded": True})


class ActorError(DeploybotError, ValueError):
    """A string that is not ``channel:id``; the message says what is wrong."""


def _channel_problem(channel: str, sep: str) -> str | None:
    if not sep:
        return "no channel: expected channel:id"
    if channel not in CHANNELS:
        return f"unknown channel; one of {', '.join(CHANNELS)}"
    return None


def _problem(channel: str, sep: str, ident: str) -> str | None:
    if (problem := _channel_problem(channel, sep)) is not None:
        return problem
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
        """``text`` from outside, checked whole: ``ActorError`` says what is wrong."""
        return cls._parsed(text, strict=True)

    @classmethod
    def recorded(cls, text: str) -> "Actor":
        """An actor as stored (or named by the config): one of the channels, then the id as
        it was written, whatever it holds; ``ActorError`` only without a known channel."""
        return cls._parsed(text, strict=False)

    @classmethod
    def _parsed(cls, text: str, *, strict: bool) -> "Actor":
        channel, sep, ident = text.partition(":")
        problem = _problem(channel, sep, ident) if strict else _channel_problem(channel, sep)
        if problem is not None:
            raise ActorError(f"not an actor ({problem}): {text[:80]!r}")
        actor = str.__new__(cls, text)
        actor.channel = channel  # type: ignore[assignment]  # checked by _channel_problem
        actor.id = ident
        return actor

    @classmethod
    def of(cls, channel: Channel, ident: str) -> "Actor":
        """The actor ``ident`` on ``channel``; ``ActorError`` when ``ident`` is no id."""
        return cls(f"{channel}:{ident}")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        """In a model: stored as its string; a string is parsed whole (``Actor``), or as
        recorded under the ``RECORDED`` context; an ``Actor`` already parsed is kept."""
        return core_schema.with_info_plain_validator_function(
            _validate,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.to_string_ser_schema(),
        )


def _validate(value: object, info: core_schema.ValidationInfo) -> Actor:
    if isinstance(value, Actor):
        return value
    if not isinstance(value, str):
        raise ActorError(f"not an actor (not a string): {type(value).__name__}")
    context = info.context
    if isinstance(context, Mapping) and context.get("recorded"):
        return Actor.recorded(value)
    return Actor(value)
