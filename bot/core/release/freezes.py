"""Freeze windows (``[[freezes]]``): is an environment frozen at a given time, until when, when
is it frozen next, and may this person break the glass. Pure: time is passed in (aware).

How times are read (``bot.core.config.freeze``):

- An RRULE is read on the freeze's local wall clock: its BYHOUR, BYMINUTE and BYDAY are
  local to ``timezone``, and so is ``duration_s``, which is added on the wall clock. So
  "Friday 16:00 + 230400 s" ends Monday 08:00 local also on the weekends when daylight saving
  time starts or ends (then it lasts 63 h or 65 h of real time).
- A local time that occurs twice (fall-back) is its first occurrence; one skipped by the
  spring-forward gap is read with the offset from before the gap (zoneinfo's ``fold=0``, as
  RFC 5545 says): a window at 02:30 on Berlin's last Sunday of March opens at 03:30 CEST.
  Should its end then come before that start, the window is empty.
- A window that opened before the time asked (before the bot started, too) counts.
- Where windows of the environment overlap or touch, ``ends_at`` is when the environment is
  free again: the end of the chain (looked for up to ``HORIZON`` ahead).

The RRULE is parsed once per text (``parse_rrule``) and its occurrences are expanded once, as
far as they were asked for, and kept (``_Starts``): dateutil counts every occurrence from the
rule's DTSTART on each call, which for a daily rule since 2000 is thousands of steps a turn.
"""

import bisect
import functools
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict

from bot.core.config.config import Config
from bot.core.config.freeze import Freeze, local_instant, parse_rrule, zone_of
from bot.core.policy.approval import Allowed
from bot.core.wording.freezes import (
    frozen_text,
    glass_needs_reason_text,
    glass_refused_text,
)

__all__ = [
    "HORIZON",
    "FreezeWindow",
    "Frozen",
    "GlassBroken",
    "active_freeze",
    "check_freeze",
    "next_freeze",
]

#: How far ahead a chain's end and the next freeze are looked for.
HORIZON = timedelta(days=400)
# Local wall-clock times are at most a day away from UTC: the margin around a range.
_SLACK = timedelta(days=1)


class FreezeWindow(BaseModel):
    """The freeze holding ``environment``: ``starts_at`` when its window opened, ``ends_at``
    when the environment is free again (the end of the chain of overlapping windows), both
    aware UTC; ``break_glass``: who may break it (named by every freeze open at that time)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    reason: str
    environment: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    timezone: str
    break_glass: list[str]


class Frozen(BaseModel):
    """No deploy: ``window`` holds the environment; ``reason_text`` says so, and what to do."""

    model_config = ConfigDict(frozen=True)

    window: FreezeWindow
    reason_text: str

    @property
    def text(self) -> str:
        """The same words as ``reason_text``."""
        return self.reason_text


class GlassBroken(BaseModel):
    """A deploy inside ``window``, allowed because ``person`` broke its glass for ``reason``
    (audited and shown to the approvers; approvals still apply)."""

    model_config = ConfigDict(frozen=True)

    window: FreezeWindow
    person: str
    reason: str


class _Span(NamedTuple):
    start: datetime
    end: datetime
    freeze: Freeze


class _Starts:
    """A rule's local start times, expanded once as far as asked and kept in order."""

    def __init__(self, text: str) -> None:
        self._next: Iterator[datetime] = iter(parse_rrule(text))
        self._found: list[datetime] = []
        self._done = False

    def between(self, first: datetime, last: datetime) -> list[datetime]:
        """The starts from ``first`` to ``last``, both included (naive local times)."""
        while not self._done and (not self._found or self._found[-1] <= last):
            start = next(self._next, None)
            if start is None:
                self._done = True
            else:
                self._found.append(start)
        low = bisect.bisect_left(self._found, first)
        return self._found[low : bisect.bisect_right(self._found, last)]


@functools.lru_cache(maxsize=256)
def _starts(text: str) -> _Starts:
    return _Starts(text)


def _spans(freeze: Freeze, *, low: datetime, high: datetime) -> list[_Span]:
    """The windows of ``freeze`` that end after ``low`` and open at or before ``high``."""
    zone = freeze.timezone
    if freeze.rrule is None or freeze.duration_s is None:
        assert freeze.from_ is not None
        assert freeze.until is not None
        found = [(local_instant(freeze.from_, zone=zone), local_instant(freeze.until, zone=zone))]
    else:
        length = timedelta(seconds=freeze.duration_s)
        first = _wall_clock(low, zone=zone) - length - _SLACK
        starts = _starts(freeze.rrule).between(first, _wall_clock(high, zone=zone) + _SLACK)
        found = [
            (local_instant(s, zone=zone), local_instant(s + length, zone=zone)) for s in starts
        ]
    return [_Span(s, e, freeze) for s, e in found if s < e and e > low and s <= high]


def _wall_clock(moment: datetime, *, zone: str) -> datetime:
    return moment.astimezone(zone_of(zone)).replace(tzinfo=None)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: freezes need an aware time")
    return moment.astimezone(UTC)


def _of(freezes: Sequence[Freeze], environment: str) -> list[Freeze]:
    return [f for f in freezes if environment in f.environments]


def _chain_end(freezes: Sequence[Freeze], *, end: datetime, limit: datetime) -> datetime:
    """``end`` moved on through every window that opens by then and ends later."""
    while end < limit:
        later = max((s.end for f in freezes for s in _spans(f, low=end, high=end)), default=end)
        if later <= end:
            break
        end = later
    return end


def active_freeze(
    freezes: Sequence[Freeze], *, environment: str, at: datetime
) -> FreezeWindow | None:
    """The freeze holding ``environment`` at ``at`` (None: not frozen). Several open at once:
    the one whose own window ends last (the first listed, on a tie) names it, and only people
    every one of them names may break the glass."""
    at, mine = _utc(at), _of(freezes, environment)
    open_now = [s for f in mine for s in _spans(f, low=at, high=at)]
    if not open_now:
        return None
    first = max(open_now, key=lambda s: s.end)
    glass = [
        p for p in first.freeze.break_glass if all(p in s.freeze.break_glass for s in open_now)
    ]
    return FreezeWindow(
        name=first.freeze.name,
        reason=first.freeze.reason,
        environment=environment,
        starts_at=first.start,
        ends_at=_chain_end(mine, end=first.end, limit=at + HORIZON),
        timezone=first.freeze.timezone,
        break_glass=glass,
    )


def next_freeze(
    freezes: Sequence[Freeze], *, environment: str, after: datetime
) -> FreezeWindow | None:
    """The next time ``environment`` becomes frozen after ``after``, within ``HORIZON``: past
    the freeze holding it now, if one does (a window opening inside it is part of it)."""
    after, mine = _utc(after), _of(freezes, environment)
    current = active_freeze(mine, environment=environment, at=after)
    since = current.ends_at if current is not None else after
    limit = after + HORIZON
    opening = [s.start for f in mine for s in _spans(f, low=since, high=limit) if s.start > since]
    if not opening:
        return None
    return active_freeze(mine, environment=environment, at=min(opening))


def check_freeze(
    config: Config,
    *,
    environment: str,
    at: datetime,
    person: str | None,
    break_glass: str | None,
) -> Allowed | Frozen | GlassBroken:
    """May a deploy to ``environment`` run at ``at``? ``person``: the requester's [people]
    name (None: not one); ``break_glass``: the reason they gave with ``break glass`` (None:
    they did not say it). Inside a freeze only a person it names, with a reason, gets past."""
    window = active_freeze(config.freezes, environment=environment, at=at)
    if window is None:
        return Allowed()
    if break_glass is None:
        return Frozen(window=window, reason_text=frozen_text(window))
    if person is None or person not in window.break_glass:
        return Frozen(window=window, reason_text=glass_refused_text(window, person=person))
    if not break_glass.strip():
        return Frozen(window=window, reason_text=glass_needs_reason_text(window))
    return GlassBroken(window=window, person=person, reason=break_glass.strip())
