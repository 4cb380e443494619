"""What every event has: an ``id`` (inbound: the channel's, so a redelivery is recognised) and
``at`` (UTC). Events are frozen and forbid unknown fields (``bot.core.thread.events``)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["EventBase"]


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    at: datetime
