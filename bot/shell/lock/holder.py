"""Who holds a deploy lock (``LockHolder``, the JSON a lock stores) and what a try for one
came to (``Grant``). Pure values: ``bot.shell.lock.lease`` reads and writes them in Redis.

``holder_of`` reads a stored value as Redis returns it (None or empty: nobody holds it); a
value that is not a holder raises pydantic's ``ValidationError``, as before.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Grant", "LockHolder", "holder_of"]


class LockHolder(BaseModel):
    model_config = ConfigDict(frozen=True)

    thread_id: str
    who: str
    why: str
    since: datetime
    fencing_token: int = 0
    # Held for a deploy whose outcome is unknown, until a person releases it.
    interrupted: bool = False
    # Not a holder: no lock is granted before this, after Redis lost its data (never stored).
    quiet_until: datetime | None = None

    def stored(self) -> str:
        return self.model_dump_json(exclude={"quiet_until"})


def holder_of(raw: bytes | str | None) -> LockHolder | None:
    """A lock's stored value as read (None: nobody holds it)."""
    return LockHolder.model_validate_json(raw) if raw else None


@dataclass(frozen=True, kw_only=True)
class Grant:
    """What a try for the lock came to (``EnvLock.grant``)."""

    ok: bool
    holder: LockHolder  # with the token when ``ok``; else who holds it, or the quiet period
    replies: list[Any] | None = None  # the caller's reads, queued behind the grant
    tries: int = 1
