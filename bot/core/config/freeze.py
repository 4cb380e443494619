"""A freeze window (``[[freezes]]``): when deploys to some environments stop, why, and who may
still deploy by breaking the glass. Either a recurring window (``rrule`` + ``duration_s``,
both read in the freeze's own ``timezone``) or one window (``from`` + ``until``).

Times here are wall-clock times in ``timezone``: an RRULE's BYHOUR, a ``from`` without an
offset, and the end of a recurring window (``duration_s`` added on the wall clock). How one
becomes an instant is ``local_instant``: zoneinfo with ``fold=0``, which is RFC 5545's rule
(a time that occurs twice is the first one, a time skipped by the spring-forward gap is read
with the offset from before the gap). Which window is open when is
``bot.core.release.freezes``; the cross-references to ``[environments]`` and ``[people]`` are
``check_freezes``, called by ``bot.core.config.config.Config``.
"""

import contextlib
import functools
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as rfc5545
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "MAX_STARTS_A_YEAR",
    "RULE_ANCHOR",
    "Freeze",
    "check_freezes",
    "local_instant",
    "parse_rrule",
    "zone_of",
]

#: Where a rule without its own DTSTART starts counting (a Monday, 00:00 local): so a rule's
#: unset BYHOUR/BYMINUTE/BYSECOND mean 00:00:00, and INTERVAL=2 counts from this week.
RULE_ANCHOR = datetime(2000, 1, 3)
#: A freeze that starts more windows than this a year is a mistake (and would be slow to expand).
MAX_STARTS_A_YEAR = 1000
_TOO_FINE = ("MINUTELY", "SECONDLY")


@functools.cache
def zone_of(name: str) -> ZoneInfo:
    """The time zone ``name`` (raises ``ValueError`` for an unknown one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def local_instant(moment: datetime, *, zone: str) -> datetime:
    """``moment`` as an aware UTC instant: as it is when it carries an offset, else read on
    ``zone``'s wall clock with ``fold=0`` (twice-occurring: the first; skipped: the offset
    from before the gap, so 02:30 on Berlin's spring-forward day is 03:30 CEST)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(zone), fold=0)
    return moment.astimezone(UTC)


@functools.lru_cache(maxsize=256)
def parse_rrule(text: str) -> rfc5545.rrule:
    """The rule in ``text`` (``FREQ=WEEKLY;BYDAY=FR;BYHOUR=16``, optionally after a local
    ``DTSTART:...`` line), counting from ``RULE_ANCHOR`` unless it names its own DTSTART.
    Its occurrences are naive local wall-clock times. Raises ``ValueError`` saying what is
    wrong: unreadable, several rules, a DTSTART with a zone, finer than hourly, never firing,
    or more than ``MAX_STARTS_A_YEAR`` starts a year."""
    example = "e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"
    try:
        rule = rfc5545.rrulestr(text.strip(), dtstart=RULE_ANCHOR, unfold=True)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"{text!r} is not an RFC 5545 RRULE ({example}): {exc}") from None
    if not isinstance(rule, rfc5545.rrule):
        raise ValueError("one RRULE only (and an optional DTSTART): no RDATE, EXDATE or EXRULE")
    freq = re.search(r"FREQ=(\w+)", str(rule))
    if freq is not None and freq.group(1) in _TOO_FINE:
        raise ValueError(f"FREQ={freq.group(1)} is too fine for a freeze: HOURLY at most")
    first = next(iter(rule), None)
    if first is None:
        raise ValueError(f"{text!r} never fires")
    if first.tzinfo is not None:
        raise ValueError(
            "DTSTART must be a local time, without TZID or Z: the rule is read in the "
            "freeze's timezone"
        )
    a_year = first + timedelta(days=365)
    starts = sum(1 for start in rule.between(first, a_year, inc=True) if start < a_year)
    if starts > MAX_STARTS_A_YEAR:
        raise ValueError(
            f"{text!r} starts {starts} windows a year; a freeze starts at most {MAX_STARTS_A_YEAR}"
        )
    return rule


class Freeze(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    environments: list[str]
    timezone: str = "UTC"
    # A recurring window: each occurrence of the rule opens one, for duration_s on the wall
    # clock of `timezone`.
    rrule: str | None = None
    duration_s: float | None = Field(default=None, gt=0)
    # One window, ISO date-times; local to `timezone` unless they carry an offset or Z.
    from_: datetime | None = Field(default=None, alias="from")
    until: datetime | None = None
    reason: str
    # People from [people] who may say "deploy ... break glass <reason>" (approvals still apply).
    break_glass: list[str] = Field(default_factory=list)

    @field_validator("environments")
    @classmethod
    def _some_environments(cls, environments: list[str]) -> list[str]:
        if not environments:
            raise ValueError("name at least one environment from [environments]")
        for i, env in enumerate(environments):
            if env in environments[:i]:
                raise ValueError(f"{env!r} is listed twice")
        return environments

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, timezone: str) -> str:
        zone_of(timezone)
        return timezone

    @field_validator("rrule")
    @classmethod
    def _readable_rule(cls, text: str | None) -> str | None:
        if text is not None:
            parse_rrule(text)
        return text

    @field_validator("from_", "until", mode="before")
    @classmethod
    def _date_time(cls, value: object) -> datetime:
        """An ISO string or a TOML date-time; a bare date is its midnight."""
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value.strip())
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime.combine(value, time())
        raise ValueError(
            f"{value!r} is not an ISO date and time, e.g. 2026-12-23T18:00 (local to "
            "timezone) or 2026-12-23T17:00Z"
        )

    @field_validator("until")
    @classmethod
    def _after_from(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        start, zone = info.data.get("from_"), info.data.get("timezone")
        if until is None or start is None or zone is None:
            return until
        if local_instant(until, zone=zone) <= local_instant(start, zone=zone):
            raise ValueError(f"{_said(until, zone)} is not after from ({_said(start, zone)})")
        return until

    @field_validator("reason")
    @classmethod
    def _says_why(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("say why: it is shown to everyone the freeze stops")
        return reason.strip()

    @model_validator(mode="after")
    def _one_kind_of_window(self) -> "Freeze":
        recurring = self.rrule is not None or self.duration_s is not None
        once = self.from_ is not None or self.until is not None
        if recurring and once:
            raise ValueError("give rrule and duration_s, or from and until, not both")
        if not recurring and not once:
            raise ValueError(
                "say when: rrule and duration_s (a recurring window) or from and until (one window)"
            )
        for key, value, needs, other in (
            ("rrule", self.rrule, "duration_s", self.duration_s),
            ("duration_s", self.duration_s, "rrule", self.rrule),
            ("from", self.from_, "until", self.until),
            ("until", self.until, "from", self.from_),
        ):
            if value is not None and other is None:
                raise ValueError(f"{key} needs {needs}")
        return self


def check_freezes(
    freezes: Sequence[Freeze], *, environments: Mapping[str, object], people: Mapping[str, object]
) -> None:
    """Each freeze names known environments and people, and no two share a name; raises
    ``ValueError`` naming the key (``freezes[0].environments[1]: unknown environment 'prod'``)."""
    for i, freeze in enumerate(freezes):
        for j, env in enumerate(freeze.environments):
            if env not in environments:
                raise ValueError(
                    f"freezes[{i}].environments[{j}]: unknown environment {env!r} "
                    f"(defined: {', '.join(sorted(environments))})"
                )
        for j, person in enumerate(freeze.break_glass):
            if person not in people:
                raise ValueError(f"freezes[{i}].break_glass[{j}]: {person!r} is not in [people]")
        for k, earlier in enumerate(freezes[:i]):
            if earlier.name == freeze.name:
                raise ValueError(
                    f"freezes[{i}].name: {freeze.name!r} is also the name of freezes[{k}]"
                )


def _said(moment: datetime, zone: str) -> str:
    """``2026-12-23T18:00 Europe/Berlin`` (local) or ``2026-12-23T17:00+00:00``."""
    text = moment.isoformat(timespec="minutes")
    return text if moment.tzinfo is not None else f"{text} {zone}"
