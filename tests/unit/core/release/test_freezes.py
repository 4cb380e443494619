"""Which freeze holds an environment when (``bot.core.release.freezes``): the second before, at
and after each edge, windows already open, Berlin's DST weekends, the spring-forward gap,
one-off windows, chains of overlapping or touching windows, and break glass."""

from datetime import UTC, datetime, timedelta
from pathlib import PurePath

import pytest

from bot.core.config.config import Config, parse_config
from bot.core.config.freeze import Freeze
from bot.core.policy.approval import Allowed
from bot.core.release import freezes as policy
from bot.core.release.freezes import (
    HORIZON,
    Frozen,
    GlassBroken,
    active_freeze,
    check_freeze,
    next_freeze,
)

BERLIN = "Europe/Berlin"
SECOND = timedelta(seconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def recurring(
    name: str,
    rule: str,
    duration_s: float,
    *,
    environments: tuple[str, ...] = ("production",),
    zone: str = BERLIN,
    glass: tuple[str, ...] = (),
) -> Freeze:
    return Freeze.model_validate(
        {
            "name": name,
            "environments": list(environments),
            "rrule": rule,
            "duration_s": duration_s,
            "timezone": zone,
            "reason": f"{name} reason",
            "break_glass": list(glass),
        }
    )


def once(
    name: str,
    start: str,
    end: str,
    *,
    environments: tuple[str, ...] = ("production",),
    zone: str = BERLIN,
    glass: tuple[str, ...] = (),
) -> Freeze:
    return Freeze.model_validate(
        {
            "name": name,
            "environments": list(environments),
            "from": start,
            "until": end,
            "timezone": zone,
            "reason": f"{name} reason",
            "break_glass": list(glass),
        }
    )


# Friday 16:00 to Monday 08:00, Berlin time
WEEKEND = recurring(
    "weekend", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0", 230400, glass=("alice", "bob")
)
# every night 23:00 to 01:00, Berlin time
NIGHTLY = recurring("nightly", "FREQ=DAILY;BYHOUR=23", 7200)
# every night 01:00 to 03:00: across the change itself
EARLY = recurring("early", "FREQ=DAILY;BYHOUR=1", 7200)
# 02:30 every day: on 29 Mar 2026 that time does not exist; on 25 Oct it happens twice
GAP_2H = recurring("gap", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", 7200)
GAP_1H = recurring("gap", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30", 3600)
HOLIDAYS = once(
    "holidays", "2026-12-23T18:00", "2027-01-04T08:00", environments=("production", "staging")
)
HOLIDAYS_UTC = once("holidays", "2026-12-23T18:00Z", "2027-01-04T08:00+01:00")

Window = tuple[str, datetime, datetime] | None


def edges(freeze: Freeze, start: datetime, end: datetime) -> list[tuple[datetime, Window]]:
    """The second before, at and after ``start`` and ``end`` of one window of ``freeze``."""
    window = (freeze.name, start, end)
    return [
        (start - SECOND, None),
        (start, window),
        (start + SECOND, window),
        (end - SECOND, window),
        (end, None),
        (end + SECOND, None),
    ]


#: (case, freeze, first second inside, first second after): each gives the cases one
#: second before, at and after both edges (``edges``)
EDGES: list[tuple[str, Freeze, datetime, datetime]] = [
    # an ordinary weekend: 16:00 CET is 15:00 UTC, Monday 08:00 CET is 07:00 UTC
    ("december weekend", WEEKEND, utc(2026, 12, 4, 15), utc(2026, 12, 7, 7)),
    # summer time starts Sunday 29 Mar: Friday 16:00 CET -> Monday 08:00 CEST, 63 real hours
    ("march DST weekend", WEEKEND, utc(2026, 3, 27, 15), utc(2026, 3, 30, 6)),
    # summer time ends Sunday 25 Oct: Friday 16:00 CEST -> Monday 08:00 CET, 65 real hours
    ("october DST weekend", WEEKEND, utc(2026, 10, 23, 14), utc(2026, 10, 26, 7)),
    # 23:00-01:00 the nights around the spring change: 22:00-00:00 UTC, then 21:00-23:00
    ("nightly before spring", NIGHTLY, utc(2026, 3, 28, 22), utc(2026, 3, 29, 0)),
    ("nightly after spring", NIGHTLY, utc(2026, 3, 29, 21), utc(2026, 3, 29, 23)),
    # ... and around the autumn change: 21:00-23:00 UTC, then 22:00-00:00
    ("nightly before autumn", NIGHTLY, utc(2026, 10, 24, 21), utc(2026, 10, 24, 23)),
    ("nightly after autumn", NIGHTLY, utc(2026, 10, 25, 22), utc(2026, 10, 26, 0)),
    # 01:00-03:00 on the wall clock across the change: 1 real hour in spring, 3 in autumn
    ("early spring", EARLY, utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),
    ("early autumn", EARLY, utc(2026, 10, 24, 23), utc(2026, 10, 25, 2)),
    # 02:30 does not exist on 29 Mar: read with the offset before the gap, it is 03:30 CEST
    # (01:30 UTC); two wall-clock hours later is 04:30 CEST (02:30 UTC)
    ("gap start", GAP_2H, utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)),
    # 02:30 happens twice on 25 Oct: the first (CEST, 00:30 UTC) opens it; two wall-clock
    # hours later is 04:30 CET (03:30 UTC), three real hours
    ("ambiguous start", GAP_2H, utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 3, 30)),
    # one-off windows: local to the zone (CET: -1 h), or as written with an offset or Z
    ("holidays, local", HOLIDAYS, utc(2026, 12, 23, 17), utc(2027, 1, 4, 7)),
    ("holidays, offsets", HOLIDAYS_UTC, utc(2026, 12, 23, 18), utc(2027, 1, 4, 7)),
]

CASES: list[tuple[str, list[Freeze], datetime, Window]] = [
    *(
        (name, [freeze], at, window)
        for name, freeze, start, end in EDGES
        for at, window in edges(freeze, start, end)
    ),
    # one wall-clock hour from a start in the gap ends (03:30 CEST) where it starts: no window
    ("gap start, empty", [GAP_1H], utc(2026, 3, 29, 1, 15), None),
    ("gap start, empty", [GAP_1H], utc(2026, 3, 29, 1, 30), None),
    # a freeze for another environment holds nothing here
    (
        "other environment",
        [recurring("stg", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16", 230400, environments=("staging",))],
        utc(2026, 12, 5, 12),
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "freezes", "at", "expected"),
    [pytest.param(*case, id=f"{case[0]} {case[2]:%Y-%m-%d %H:%M:%S}") for case in CASES],
)
def test_active_freeze_at_the_edges(
    case: str, freezes: list[Freeze], at: datetime, expected: Window
) -> None:
    window = active_freeze(freezes, environment="production", at=at)

    found = None if window is None else (window.name, window.starts_at, window.ends_at)
    assert found == expected, case


def test_a_window_already_open_when_the_bot_starts_counts() -> None:
    """A fresh process (nothing expanded yet) asked on Saturday sees Friday's window."""
    policy._starts.cache_clear()

    window = active_freeze([WEEKEND], environment="production", at=utc(2026, 12, 5, 12))

    assert window is not None
    assert (window.starts_at, window.ends_at) == (utc(2026, 12, 4, 15), utc(2026, 12, 7, 7))
    assert window.model_dump() == {
        "name": "weekend",
        "reason": "weekend reason",
        "environment": "production",
        "starts_at": utc(2026, 12, 4, 15),
        "ends_at": utc(2026, 12, 7, 7),
        "timezone": BERLIN,
        "break_glass": ["alice", "bob"],
    }


A = once("a", "2026-12-01T10:00Z", "2026-12-01T12:00Z", glass=("alice", "bob"))
B = once("b", "2026-12-01T12:00Z", "2026-12-01T14:00Z", glass=("bob",))
C = once("c", "2026-12-01T11:00Z", "2026-12-01T13:00Z", glass=("bob", "alice"))
# the holidays end on a Saturday midday, inside a weekend that goes on to Monday
SHORT_HOLIDAYS = once("holidays", "2026-12-23T18:00", "2027-01-02T12:00")


@pytest.mark.parametrize(
    ("freezes", "at", "expected"),
    [
        # touching: a's end is b's start; the environment is free at 14:00
        ([A, B], utc(2026, 12, 1, 11), ("a", utc(2026, 12, 1, 10), utc(2026, 12, 1, 14))),
        ([A, B], utc(2026, 12, 1, 12), ("b", utc(2026, 12, 1, 12), utc(2026, 12, 1, 14))),
        ([A, B], utc(2026, 12, 1, 14) - SECOND, ("b", utc(2026, 12, 1, 12), utc(2026, 12, 1, 14))),
        ([A, B], utc(2026, 12, 1, 14), None),
        # overlapping: a (10-12) and c (11-13), both open at 11:30; c ends last and names it
        ([A, C], utc(2026, 12, 1, 10, 30), ("a", utc(2026, 12, 1, 10), utc(2026, 12, 1, 13))),
        ([A, C], utc(2026, 12, 1, 11, 30), ("c", utc(2026, 12, 1, 11), utc(2026, 12, 1, 13))),
        # a chain of three: 10-12, 11-13, 12-14
        ([A, C, B], utc(2026, 12, 1, 10), ("a", utc(2026, 12, 1, 10), utc(2026, 12, 1, 14))),
        # the holidays run into the weekend of 1-4 Jan: free again Monday 08:00 local
        (
            [WEEKEND, SHORT_HOLIDAYS],
            utc(2026, 12, 24),
            ("holidays", utc(2026, 12, 23, 17), utc(2027, 1, 4, 7)),
        ),
        # a weekend inside the holidays (25-28 Dec) changes nothing: it ends inside them
        (
            [WEEKEND, HOLIDAYS],
            utc(2026, 12, 24),
            ("holidays", utc(2026, 12, 23, 17), utc(2027, 1, 4, 7)),
        ),
        # Saturday 2 Jan morning both are open: the weekend ends last and names it
        (
            [WEEKEND, SHORT_HOLIDAYS],
            utc(2027, 1, 2, 9),
            ("weekend", utc(2027, 1, 1, 15), utc(2027, 1, 4, 7)),
        ),
    ],
)
def test_overlapping_and_touching_windows_end_with_the_chain(
    freezes: list[Freeze], at: datetime, expected: Window
) -> None:
    window = active_freeze(freezes, environment="production", at=at)

    assert (None if window is None else (window.name, window.starts_at, window.ends_at)) == (
        expected
    )


@pytest.mark.parametrize(
    ("freezes", "at", "glass"),
    [
        ([A, B], utc(2026, 12, 1, 11), ["alice", "bob"]),
        # a and c both open: only people both name may break the glass
        ([A, C], utc(2026, 12, 1, 11, 30), ["bob", "alice"]),
        ([A, B, C], utc(2026, 12, 1, 12, 30), ["bob"]),
        # the weekend names alice and bob, the holidays nobody: nobody while both hold
        ([WEEKEND, SHORT_HOLIDAYS], utc(2027, 1, 2, 9), []),
    ],
)
def test_break_glass_is_who_every_open_freeze_names(
    freezes: list[Freeze], at: datetime, glass: list[str]
) -> None:
    window = active_freeze(freezes, environment="production", at=at)

    assert window is not None
    assert window.break_glass == glass


def test_a_freeze_that_never_lets_go_is_followed_to_the_horizon() -> None:
    always = recurring("always", "FREQ=DAILY;BYHOUR=23", 25 * 3600)
    at = utc(2026, 12, 1, 12)

    window = active_freeze([always], environment="production", at=at)

    assert window is not None
    assert at + HORIZON <= window.ends_at <= at + HORIZON + timedelta(days=2)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ("production", ("weekend", utc(2026, 12, 4, 15), utc(2026, 12, 7, 7))),
        ("staging", None),
        ("unknown", None),
    ],
)
def test_several_environments(environment: str, expected: Window) -> None:
    window = active_freeze([WEEKEND, HOLIDAYS], environment=environment, at=utc(2026, 12, 5, 12))

    assert (None if window is None else (window.name, window.starts_at, window.ends_at)) == (
        expected
    )
    assert window is None or window.environment == environment


def test_the_holidays_hold_staging_too() -> None:
    window = active_freeze([WEEKEND, HOLIDAYS], environment="staging", at=utc(2026, 12, 24))

    assert window is not None
    assert (window.name, window.environment, window.ends_at) == (
        "holidays",
        "staging",
        utc(2027, 1, 4, 7),
    )


@pytest.mark.parametrize(
    ("freezes", "after", "expected"),
    [
        # a Tuesday: the coming weekend
        ([WEEKEND], utc(2026, 12, 1, 12), ("weekend", utc(2026, 12, 4, 15), utc(2026, 12, 7, 7))),
        # at the very start: that one is open, so the next weekend
        ([WEEKEND], utc(2026, 12, 4, 15), ("weekend", utc(2026, 12, 11, 15), utc(2026, 12, 14, 7))),
        (
            [WEEKEND],
            utc(2026, 12, 4, 15) - SECOND,
            ("weekend", utc(2026, 12, 4, 15), utc(2026, 12, 7, 7)),
        ),
        # inside the weekend of 18-21 Dec: the holidays next, to the end of their chain
        (
            [WEEKEND, HOLIDAYS],
            utc(2026, 12, 20),
            ("holidays", utc(2026, 12, 23, 17), utc(2027, 1, 4, 7)),
        ),
        # inside the holidays: the weekends inside them are theirs; the next is 8 Jan
        (
            [WEEKEND, HOLIDAYS],
            utc(2026, 12, 24),
            ("weekend", utc(2027, 1, 8, 15), utc(2027, 1, 11, 7)),
        ),
        # over, or too far ahead (more than 400 days), or none at all
        ([HOLIDAYS], utc(2027, 2, 1), None),
        ([once("far", "2028-06-01T00:00Z", "2028-06-02T00:00Z")], utc(2027, 2, 1), None),
        ([], utc(2027, 2, 1), None),
    ],
)
def test_next_freeze(freezes: list[Freeze], after: datetime, expected: Window) -> None:
    window = next_freeze(freezes, environment="production", after=after)

    assert (None if window is None else (window.name, window.starts_at, window.ends_at)) == (
        expected
    )


def test_times_without_a_zone_are_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        active_freeze([WEEKEND], environment="production", at=datetime(2026, 12, 5, 12))


CONFIG = """
[people.alice]
[people.bob]
[people.carol]
[services.backend]
repo = "repos/backend"
deploy = ["./deploy.sh"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]

[[freezes]]
name = "weekend"
environments = ["production"]
rrule = "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16;BYMINUTE=0"
duration_s = 230400
timezone = "Europe/Berlin"
reason = "no weekend deploys"
break_glass = ["alice", "bob"]

[[freezes]]
name = "holidays"
environments = ["production", "staging"]
from = "2026-12-23T18:00"
until = "2027-01-04T08:00"
timezone = "Europe/Berlin"
reason = "holiday freeze"
"""

SATURDAY = utc(2026, 12, 5, 12)
HEAD = (
    "production is frozen: no weekend deploys (freeze weekend, until Mon 7 Dec 07:00 UTC, "
    "08:00 Europe/Berlin). Nothing was deployed."
)
HOLIDAY_HEAD = (
    "staging is frozen: holiday freeze (freeze holidays, until Mon 4 Jan 07:00 UTC, 08:00 "
    "Europe/Berlin). Nothing was deployed."
)


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(CONFIG, base_dir=PurePath("/etc/deploybot"))


@pytest.mark.parametrize(
    ("environment", "at", "person", "glass", "expected"),
    [
        ("production", utc(2026, 12, 2, 12), "carol", None, "allowed"),
        ("staging", SATURDAY, "carol", None, "allowed"),
        (
            "production",
            SATURDAY,
            "carol",
            None,
            f"{HEAD} alice or bob may say 'deploy ... break glass <reason>'.",
        ),
        (
            "production",
            SATURDAY,
            "alice",
            " hotfix for checkout ",
            "broken:alice:hotfix for checkout",
        ),
        ("production", SATURDAY, "bob", "hotfix", "broken:bob:hotfix"),
        (
            "production",
            SATURDAY,
            "carol",
            "hotfix",
            f"{HEAD} Only alice or bob may break its glass, not carol.",
        ),
        ("production", SATURDAY, None, "hotfix", f"{HEAD} Only alice or bob may break its glass."),
        (
            "production",
            SATURDAY,
            "alice",
            "  ",
            f"{HEAD} Breaking its glass needs a reason: 'deploy ... break glass <reason>'.",
        ),
        (
            "staging",
            utc(2026, 12, 24),
            "alice",
            None,
            f"{HOLIDAY_HEAD} Nobody may break the glass of this freeze: deploy after it ends.",
        ),
        (
            "staging",
            utc(2026, 12, 24),
            "alice",
            "hotfix",
            f"{HOLIDAY_HEAD} Nobody may break the glass of this freeze: deploy after it ends.",
        ),
    ],
)
def test_check_freeze(
    config: Config,
    environment: str,
    at: datetime,
    person: str | None,
    glass: str | None,
    expected: str,
) -> None:
    verdict = check_freeze(config, environment=environment, at=at, person=person, break_glass=glass)

    match verdict:
        case Allowed():
            said = "allowed"
        case Frozen(reason_text=text):
            said = text
            assert verdict.text == text
            assert verdict.window.environment == environment
        case GlassBroken(person=who, reason=reason):
            said = f"broken:{who}:{reason}"
            assert verdict.window.name == "weekend"
    assert said == expected
