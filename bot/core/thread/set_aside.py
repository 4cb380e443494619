"""Inputs set aside: one input a channel could not handle, why, and where it went. Pure.

No single input may stop a channel. Whatever a channel cannot handle (an email too deeply
nested to parse, a Slack payload nested a thousand levels, a stored event that fails every
time) is capped before it is parsed, logged, counted and set aside, and the next input is
handled. This module names the channels and the reasons (a closed set: they are metric
labels) and turns one ``SetAside`` into an audit record (``deploybot audit``).
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.thread.text.outside import Line

__all__ = [
    "SetAside",
    "SetAsideChannel",
    "SetAsideReason",
    "set_aside_record",
]

#: Where the input came in.
SetAsideChannel = Literal["email", "slack", "api", "webhook", "worker"]

#: Why it could not be handled (a closed set: the ``reason`` label of
#: ``deploybot_inputs_set_aside_total``).
SetAsideReason = Literal[
    "too_large",  # over the channel's byte cap
    "too_deep",  # MIME parts or JSON values nested deeper than the cap
    "too_many_parts",  # more MIME parts than the cap
    "headers_too_large",  # the header block, or one header, over the cap
    "malformed",  # not the shape the channel reads (not UTF-8, not JSON, not a form)
    "parser_failed",  # our own parsing raised on it: contained, never retried
    "handler_failed",  # handling it raised (an HTTP request answered 500)
    "crashed",  # the process stopped while handling it, again and again
    "undecodable",  # a stored inbound entry that is not an event
    "keeps_failing",  # a stored inbound event whose handling failed every delivery
    "no_thread",  # a stored inbound event for a thread that does not exist
]


class SetAside(BaseModel):
    """One input that was set aside, as the audit and the log show it."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    channel: SetAsideChannel
    reason: SetAsideReason
    ref: Line = Field(
        description="Which input: an IMAP UID and Message-ID, a Slack event id, an HTTP "
        "path, a stream entry id. Outside text: cleaned and clipped."
    )
    detail: Line = Field(description="What was found, in a few words (never the input).")
    thread_id: str | None = None  # the thread it belonged to, where one is known


def set_aside_record(item: SetAside) -> dict[str, Any]:
    """One set-aside input as an audit record (``event: input_set_aside``)."""
    return {
        "at": item.at.isoformat(),
        "event": "input_set_aside",
        **item.model_dump(mode="json", exclude={"at"}, exclude_none=True),
    }
