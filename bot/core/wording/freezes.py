"""The words of a freeze window (pure): why a deploy is refused inside one, what breaking its
glass says, and the clause a frozen environment gets in ``where can I deploy``.

Which freeze holds when, and who may break its glass, is ``bot.core.release.freezes``; it hands
this module the window (any object with the fields of ``FreezeShown``). The end of a freeze
is given in UTC and on the freeze's own clock, since the config wrote it in that zone.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "FreezeShown",
    "frozen_clause",
    "frozen_text",
    "glass_broken_text",
    "glass_needs_reason_text",
    "glass_refused_text",
    "until_text",
]

_HOW = "'deploy ... break glass <reason>'"


class FreezeShown(Protocol):
    """A freeze holding an environment: its name and reason, when the environment is free
    again (aware), the zone the config wrote it in, and who may break its glass."""

    @property
    def name(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def environment(self) -> str: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def timezone(self) -> str: ...
    @property
    def break_glass(self) -> Sequence[str]: ...


def _day_and_time(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def until_text(ends_at: datetime, *, timezone: str) -> str:
    """``Mon 7 Dec 07:00 UTC, 08:00 Europe/Berlin``: the end in UTC, and on the freeze's clock
    (with its day too where that differs); UTC alone for a UTC freeze."""
    utc = ends_at.astimezone(UTC)
    said = f"{_day_and_time(utc)} UTC"
    if timezone == "UTC":
        return said
    local = ends_at.astimezone(ZoneInfo(timezone))
    clock = f"{local:%H:%M}" if local.date() == utc.date() else _day_and_time(local)
    return f"{said}, {clock} {timezone}"


def _names(people: Sequence[str]) -> str:
    """``alice``, ``alice or bob``, ``alice, bob or carol``."""
    if len(people) < 2:
        return "".join(people)
    return f"{', '.join(people[:-1])} or {people[-1]}"


def _head(window: FreezeShown) -> str:
    return (
        f"{window.environment} is frozen: {window.reason} (freeze {window.name}, until "
        f"{until_text(window.ends_at, timezone=window.timezone)}). Nothing was deployed."
    )


def frozen_text(window: FreezeShown) -> str:
    """A deploy asked inside a freeze, without breaking its glass."""
    if not window.break_glass:
        return f"{_head(window)} Nobody may break the glass of this freeze: deploy after it ends."
    return f"{_head(window)} {_names(window.break_glass)} may say {_HOW}."


def glass_refused_text(window: FreezeShown, *, person: str | None) -> str:
    """``break glass <reason>`` from someone the freeze does not name (``person``: their
    [people] name, None when they are nobody there)."""
    if not window.break_glass:
        return f"{_head(window)} Nobody may break the glass of this freeze: deploy after it ends."
    who = f", not {person}" if person else ""
    return f"{_head(window)} Only {_names(window.break_glass)} may break its glass{who}."


def glass_needs_reason_text(window: FreezeShown) -> str:
    """``break glass`` with no reason after it, from someone who may break the glass."""
    return f"{_head(window)} Breaking its glass needs a reason: {_HOW}."


def glass_broken_text(window: FreezeShown, *, person: str, reason: str) -> str:
    """What the thread, the card and the audit say when a person breaks a freeze's glass."""
    return (
        f"{person} breaks the glass of freeze {window.name} on {window.environment} "
        f"({window.reason}, until {until_text(window.ends_at, timezone=window.timezone)}): "
        f"{reason}. Approvals still apply."
    )


def frozen_clause(window: FreezeShown) -> str:
    """A frozen environment's clause in a ``where`` row."""
    return f"frozen until {_day_and_time(window.ends_at.astimezone(UTC))} UTC ({window.reason})"
