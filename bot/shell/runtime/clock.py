"""Time and ids, as one object every part of the shell is handed (never read from the system
directly), so that tests and replays are deterministic (DESIGN.md, "Worker rules").

``Clock`` is a pair of functions: ``now()`` (aware UTC) and ``new_id()`` (a short unique id
for an event or a message). ``SYSTEM_CLOCK`` is the real one; tests build their own.
It lives in ``runtime``, the shell's lowest floor but one, so every package may take it.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["SYSTEM_CLOCK", "Clock", "random_id", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_id() -> str:
    return secrets.token_hex(6)


@dataclass(frozen=True, kw_only=True)
class Clock:
    """When it is, and the next id. Both are plain functions (a fixed time or a counter in
    tests)."""

    now: Callable[[], datetime] = utc_now
    new_id: Callable[[], str] = random_id


SYSTEM_CLOCK = Clock()
