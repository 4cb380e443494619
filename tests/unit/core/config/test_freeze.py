"""``[[freezes]]`` in the config file: good windows load as written, each mistake names its key,
and local times become instants by zoneinfo's fold rule (``bot.core.config.freeze``)."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePath

import pytest

from bot.core.config.config import parse_config
from bot.core.config.freeze import Freeze, local_instant, parse_rrule
from bot.core.errors import ConfigError

BASE = """
[people.alice]
[people.bob]
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
"""

WEEKLY = """
[[freezes]]
name = "weekend"
environments = ["production"]
rrule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"
duration_s = 230400
timezone = "Europe/Berlin"
reason = "no weekend deploys"
break_glass = ["alice", "bob"]
"""

HOLIDAYS = """
[[freezes]]
name = "holidays"
environments = ["production", "staging"]
from = "2026-12-23T18:00"
until = "2027-01-04T08:00"
timezone = "Europe/Berlin"
reason = "holiday freeze"
"""


def freezes(text: str) -> list[Freeze]:
    return parse_config(BASE + text, base_dir=PurePath("/etc/deploybot")).freezes


def test_the_designs_two_freezes_load() -> None:
    weekend, holidays = freezes(WEEKLY + HOLIDAYS)

    assert weekend.rrule == "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"
    assert weekend.duration_s == 230400
    assert weekend.break_glass == ["alice", "bob"]
    assert (weekend.from_, weekend.until) == (None, None)
    assert holidays.from_ == datetime(2026, 12, 23, 18, 0)  # local: no offset written
    assert holidays.until == datetime(2027, 1, 4, 8, 0)
    assert (holidays.rrule, holidays.duration_s, holidays.break_glass) == (None, None, [])


def test_no_freezes_is_none() -> None:
    assert freezes("") == []


def one_off(start: str, end: str, zone: str = "Europe/Berlin") -> Freeze:
    (freeze,) = freezes(
        f'[[freezes]]\nname = "f"\nenvironments = ["production"]\nfrom = {start}\n'
        f'until = {end}\ntimezone = "{zone}"\nreason = "r"\n'
    )
    return freeze


@pytest.mark.parametrize(
    ("start", "end", "opens", "closes"),
    [
        # ISO strings: local to the timezone unless they carry an offset or Z
        (
            '"2026-12-23T18:00"',
            '"2027-01-04T08:00"',
            datetime(2026, 12, 23, 17, 0, tzinfo=UTC),
            datetime(2027, 1, 4, 7, 0, tzinfo=UTC),
        ),
        (
            '"2026-12-23T18:00Z"',
            '"2026-12-24T01:00+05:00"',
            datetime(2026, 12, 23, 18, 0, tzinfo=UTC),
            datetime(2026, 12, 23, 20, 0, tzinfo=UTC),
        ),
        # 17:30Z reads earlier than 18:00 but is later: 18:00 in Berlin is 17:00 UTC
        (
            '"2026-12-23T18:00"',
            '"2026-12-23T17:30Z"',
            datetime(2026, 12, 23, 17, 0, tzinfo=UTC),
            datetime(2026, 12, 23, 17, 30, tzinfo=UTC),
        ),
        # summer time in Berlin: +02:00
        (
            '"2026-07-01T09:30:00"',
            '"2026-07-01T10:00:00"',
            datetime(2026, 7, 1, 7, 30, tzinfo=UTC),
            datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        ),
        # TOML's own date-times (unquoted), local or with an offset; a bare date is midnight
        (
            "2026-12-23T18:00:00",
            "2026-12-24T08:00:00Z",
            datetime(2026, 12, 23, 17, 0, tzinfo=UTC),
            datetime(2026, 12, 24, 8, 0, tzinfo=UTC),
        ),
        (
            '"2026-12-24"',
            "2026-12-27",
            datetime(2026, 12, 23, 23, 0, tzinfo=UTC),
            datetime(2026, 12, 26, 23, 0, tzinfo=UTC),
        ),
    ],
)
def test_from_and_until_are_read_in_the_freezes_zone(
    start: str, end: str, opens: datetime, closes: datetime
) -> None:
    freeze = one_off(start, end)
    assert freeze.from_ is not None
    assert freeze.until is not None

    assert local_instant(freeze.from_, zone=freeze.timezone) == opens
    assert local_instant(freeze.until, zone=freeze.timezone) == closes


@pytest.mark.parametrize(
    ("local", "zone", "instant"),
    [
        (datetime(2026, 12, 7, 8, 0), "Europe/Berlin", datetime(2026, 12, 7, 7, 0, tzinfo=UTC)),
        (datetime(2026, 12, 7, 8, 0), "UTC", datetime(2026, 12, 7, 8, 0, tzinfo=UTC)),
        # spring forward (29 Mar 2026, 02:00 -> 03:00): 02:30 does not exist and is read with
        # the offset from before the gap (+01:00), i.e. 03:30 CEST
        (datetime(2026, 3, 29, 2, 30), "Europe/Berlin", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        (datetime(2026, 3, 29, 1, 59), "Europe/Berlin", datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),
        (datetime(2026, 3, 29, 3, 0), "Europe/Berlin", datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
        # fall back (25 Oct 2026, 03:00 -> 02:00): 02:30 happens twice; the first (CEST) counts
        (datetime(2026, 10, 25, 2, 30), "Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (datetime(2026, 10, 25, 3, 0), "Europe/Berlin", datetime(2026, 10, 25, 2, 0, tzinfo=UTC)),
        # an offset written down wins over the zone
        (
            datetime(2026, 12, 7, 8, 0, tzinfo=timezone(timedelta(hours=-5))),
            "Europe/Berlin",
            datetime(2026, 12, 7, 13, 0, tzinfo=UTC),
        ),
    ],
)
def test_local_instant_follows_the_fold_rule(local: datetime, zone: str, instant: datetime) -> None:
    assert local_instant(local, zone=zone) == instant


@pytest.mark.parametrize(
    ("text", "first"),
    [
        # without a DTSTART the rule counts from Monday 3 Jan 2000, 00:00 local
        ("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", datetime(2000, 1, 7, 16, 0)),
        ("RRULE:FREQ=WEEKLY;BYDAY=FR;BYHOUR=16", datetime(2000, 1, 7, 16, 0)),
        ("FREQ=DAILY;BYHOUR=23", datetime(2000, 1, 3, 23, 0)),
        ("FREQ=MONTHLY;BYMONTHDAY=1", datetime(2000, 2, 1, 0, 0)),
        ("FREQ=WEEKLY;INTERVAL=2", datetime(2000, 1, 3, 0, 0)),
        # its own DTSTART (local) wins
        ("DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY", datetime(2026, 1, 5, 9, 0)),
    ],
)
def test_a_rule_counts_from_its_anchor(text: str, first: datetime) -> None:
    assert next(iter(parse_rrule(text))) == first


@pytest.mark.parametrize(
    ("freeze", "message"),
    [
        (
            WEEKLY.replace('["production"]', '["production", "prod"]'),
            "freezes[0].environments[1]: unknown environment 'prod' (defined: production, staging)",
        ),
        (
            WEEKLY.replace('["production"]', "[]"),
            "freezes[0].environments: name at least one environment from [environments]",
        ),
        (
            WEEKLY.replace('["production"]', '["production", "production"]'),
            "freezes[0].environments: 'production' is listed twice",
        ),
        (
            WEEKLY.replace('["alice", "bob"]', '["alice", "zed"]'),
            "freezes[0].break_glass[1]: 'zed' is not in [people]",
        ),
        (
            WEEKLY.replace('"weekend"', '"Weekend"'),
            "freezes[0].name: String should match pattern",
        ),
        (
            WEEKLY + WEEKLY.replace('["production"]', '["staging"]'),
            "freezes[1].name: 'weekend' is also the name of freezes[0]",
        ),
        (
            WEEKLY.replace('"Europe/Berlin"', '"Mars/Olympus"'),
            "freezes[0].timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            WEEKLY.replace("FREQ=WEEKLY;", "FREQ=FORTNIGHTLY;"),
            "freezes[0].rrule: 'FREQ=FORTNIGHTLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0' is not an "
            "RFC 5545 RRULE (e.g. FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0): invalid 'FREQ'",
        ),
        (
            WEEKLY.replace("BYDAY=FR", "BYDAY=XX"),
            "freezes[0].rrule: 'FREQ=WEEKLY;BYDAY=XX;BYHOUR=16;BYMINUTE=0' is not an RFC 5545",
        ),
        (
            WEEKLY.replace('"FREQ=WEEKLY;', '"RRULE:FREQ=WEEKLY;').replace(
                'BYMINUTE=0"', 'BYMINUTE=0\\nEXDATE:20261204T160000"'
            ),
            "freezes[0].rrule: one RRULE only (and an optional DTSTART): no RDATE, EXDATE or "
            "EXRULE",
        ),
        (
            WEEKLY.replace('"FREQ', '"DTSTART;TZID=Europe/Berlin:20260105T090000\\nRRULE:FREQ'),
            "freezes[0].rrule: DTSTART must be a local time, without TZID or Z",
        ),
        (
            WEEKLY.replace('"FREQ', '"DTSTART:20260105T090000Z\\nRRULE:FREQ'),
            "freezes[0].rrule: DTSTART must be a local time, without TZID or Z",
        ),
        (
            WEEKLY.replace("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", "FREQ=MINUTELY"),
            "freezes[0].rrule: FREQ=MINUTELY is too fine for a freeze: HOURLY at most",
        ),
        (
            WEEKLY.replace("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", "FREQ=SECONDLY"),
            "freezes[0].rrule: FREQ=SECONDLY is too fine for a freeze",
        ),
        (
            WEEKLY.replace("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", "FREQ=HOURLY"),
            "freezes[0].rrule: 'FREQ=HOURLY' starts 8760 windows a year; a freeze starts at "
            "most 1000",
        ),
        (
            WEEKLY.replace(
                "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"
            ),
            "freezes[0].rrule: 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30' never fires",
        ),
        (
            WEEKLY.replace("BYMINUTE=0", "BYMINUTE=0;UNTIL=19990101T000000"),
            "freezes[0].rrule: 'FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0;"
            "UNTIL=19990101T000000' never fires",
        ),
        (
            WEEKLY.replace("duration_s = 230400", "duration_s = 0"),
            "freezes[0].duration_s: Input should be greater than 0",
        ),
        (
            WEEKLY.replace("duration_s = 230400\n", ""),
            "freezes[0]: rrule needs duration_s",
        ),
        (
            WEEKLY.replace('rrule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"\n', ""),
            "freezes[0]: duration_s needs rrule",
        ),
        (
            WEEKLY + 'from = "2026-12-23T18:00"\nuntil = "2027-01-04T08:00"\n',
            "freezes[0]: give rrule and duration_s, or from and until, not both",
        ),
        (
            HOLIDAYS + "duration_s = 60\n",
            "freezes[0]: give rrule and duration_s, or from and until, not both",
        ),
        (
            HOLIDAYS.replace('from = "2026-12-23T18:00"\nuntil = "2027-01-04T08:00"\n', ""),
            "freezes[0]: say when: rrule and duration_s (a recurring window) or from and until "
            "(one window)",
        ),
        (
            HOLIDAYS.replace('until = "2027-01-04T08:00"\n', ""),
            "freezes[0]: from needs until",
        ),
        (
            HOLIDAYS.replace('from = "2026-12-23T18:00"\n', ""),
            "freezes[0]: until needs from",
        ),
        (
            HOLIDAYS.replace('"2026-12-23T18:00"', '"next tuesday"'),
            "freezes[0].from: 'next tuesday' is not an ISO date and time, e.g. 2026-12-23T18:00 "
            "(local to timezone) or 2026-12-23T17:00Z",
        ),
        (
            HOLIDAYS.replace('"2027-01-04T08:00"', "1767000000"),
            "freezes[0].until: 1767000000 is not an ISO date and time",
        ),
        (
            HOLIDAYS.replace('"2027-01-04T08:00"', '"2026-12-23T18:00"'),
            "freezes[0].until: 2026-12-23T18:00 Europe/Berlin is not after from "
            "(2026-12-23T18:00 Europe/Berlin)",
        ),
        (
            # 18:30+03:00 reads later than 18:00, but is 15:30 UTC: the order is the instants'
            HOLIDAYS.replace('"2027-01-04T08:00"', '"2026-12-23T18:30+03:00"'),
            "freezes[0].until: 2026-12-23T18:30+03:00 is not after from "
            "(2026-12-23T18:00 Europe/Berlin)",
        ),
        (
            HOLIDAYS.replace('"holiday freeze"', '"  "'),
            "freezes[0].reason: say why: it is shown to everyone the freeze stops",
        ),
        (
            HOLIDAYS.replace('reason = "holiday freeze"\n', ""),
            "freezes[0].reason: Field required",
        ),
        (
            HOLIDAYS + 'rule = "FREQ=WEEKLY"\n',
            "freezes[0].rule: Extra inputs are not permitted",
        ),
    ],
)
def test_each_mistake_names_its_key(freeze: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        freezes(freeze)

    assert str(caught.value).startswith(f"config: {message}")
