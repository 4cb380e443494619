"""The words of an environment's locks (pure): what ``lock``/``unlock`` answer, and how a held
pair (and a frozen environment, ``bot.core.wording.freezes``) reads in ``where can I deploy``.

Who may lock, unlock or release a held pair is ``bot.core.policy.lock``; the shell reports
who holds what (any object with ``who``, ``why``, ``since`` and ``interrupted``, such as
the lease's holder) and this module words it.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.core.wording.freezes import FreezeShown, frozen_clause
from bot.core.wording.messages import locked_text

__all__ = [
    "Holding",
    "already_locked_text",
    "held_released_text",
    "lock_state_text",
    "locked_now_text",
    "not_locked_text",
    "quiet_lock_why",
    "unlocked_text",
]


class Holding(Protocol):
    """Who holds a lock, why and since when; ``interrupted``: held after a deploy whose
    outcome is unknown, until a person has looked."""

    @property
    def who(self) -> str: ...
    @property
    def why(self) -> str: ...
    @property
    def since(self) -> datetime: ...
    @property
    def interrupted(self) -> bool: ...


def quiet_lock_why() -> str:
    """Why no lock is granted while Redis's data loss is still quiet (the lease's holder)."""
    return "a lock from before Redis lost data must run out first"


def already_locked_text(environment: str, *, holder: Holding) -> str:
    """``lock <env>`` where someone's lock is already on it."""
    text = locked_text(environment, who=holder.who, why=holder.why, since=holder.since)
    return f"Already: {text}"


def locked_now_text(environment: str, *, person: str, reason: str | None) -> str:
    why = f": {reason}" if reason else ""
    return (
        f"{environment} is locked by {person}{why}. Deploys there are refused until "
        f"'unlock {environment}'."
    )


def held_released_text(environment: str, *, services: Sequence[str], person: str) -> str:
    """``unlock <env>`` also released the services held there after an interrupted deploy."""
    return (
        f"{environment} is released for {', '.join(services)} (held after an interrupted "
        f"deploy), on {person}'s word that it was checked."
    )


def not_locked_text(environment: str) -> str:
    return f"{environment} is not locked."


def unlocked_text(environment: str, *, was_locked_by: str) -> str:
    return f"{environment} is unlocked (it was locked by {was_locked_by})."


def lock_state_text(
    environment: str,
    *,
    frozen: Holding | None,
    busy: Holding | None,
    freeze: FreezeShown | None = None,
) -> str | None:
    """A pair's locks as one clause of a ``where`` row: the freeze holding the environment
    now (``freeze``) first, then a person's lock on the environment, else a deploy holding
    the pair (held for a person after an interrupted one); None when nothing holds it."""
    lock = _lock_clause(environment, frozen=frozen, busy=busy)
    if freeze is None:
        return lock
    return f"{frozen_clause(freeze)}, {lock}" if lock else frozen_clause(freeze)


def _lock_clause(environment: str, *, frozen: Holding | None, busy: Holding | None) -> str | None:
    if frozen is not None:
        why = f" ({frozen.why})" if frozen.why else ""
        return f"locked by {frozen.who}{why} since {frozen.since:%H:%M} UTC"
    if busy is None:
        return None
    if busy.interrupted:
        return (
            f"held: {busy.why} for {busy.who} since {busy.since:%H:%M} UTC; an "
            f"approver says 'unlock {environment}' once it is checked"
        )
    return f"busy: {busy.why} for {busy.who} since {busy.since:%H:%M} UTC"
