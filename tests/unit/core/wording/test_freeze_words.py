"""How a freeze reads (``bot.core.wording.freezes``): its end in UTC and on its own clock, the
refusals, a broken glass, and the clause a frozen environment gets in ``where``."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.core.wording.environments import lock_state_text
from bot.core.wording.freezes import (
    frozen_clause,
    frozen_text,
    glass_broken_text,
    glass_needs_reason_text,
    glass_refused_text,
    until_text,
)

MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    name: str = "weekend"
    reason: str = "no weekend deploys"
    environment: str = "production"
    ends_at: datetime = MONDAY
    timezone: str = "Europe/Berlin"
    break_glass: tuple[str, ...] = ("alice", "bob")


@dataclass(frozen=True)
class Holder:
    who: str
    why: str
    since: datetime = datetime(2026, 12, 5, 9, 5, tzinfo=UTC)
    interrupted: bool = False


@pytest.mark.parametrize(
    ("ends_at", "timezone", "expected"),
    [
        (MONDAY, "Europe/Berlin", "Mon 7 Dec 07:00 UTC, 08:00 Europe/Berlin"),
        (MONDAY, "UTC", "Mon 7 Dec 07:00 UTC"),
        # summer time: two hours apart
        (
            datetime(2026, 7, 3, 14, 0, tzinfo=UTC),
            "Europe/Berlin",
            "Fri 3 Jul 14:00 UTC, 16:00 Europe/Berlin",
        ),
        # another day on the freeze's clock: its day is said too
        (
            datetime(2026, 12, 6, 23, 30, tzinfo=UTC),
            "Europe/Berlin",
            "Sun 6 Dec 23:30 UTC, Mon 7 Dec 00:30 Europe/Berlin",
        ),
        (
            datetime(2026, 12, 7, 2, 0, tzinfo=UTC),
            "America/New_York",
            "Mon 7 Dec 02:00 UTC, Sun 6 Dec 21:00 America/New_York",
        ),
    ],
)
def test_until_text(ends_at: datetime, timezone: str, expected: str) -> None:
    assert until_text(ends_at, timezone=timezone) == expected


HEAD = (
    "production is frozen: no weekend deploys (freeze weekend, until Mon 7 Dec 07:00 UTC, "
    "08:00 Europe/Berlin). Nothing was deployed."
)
NOBODY = Window(break_glass=())


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (frozen_text(Window()), f"{HEAD} alice or bob may say 'deploy ... break glass <reason>'."),
        (
            frozen_text(Window(break_glass=("alice",))),
            f"{HEAD} alice may say 'deploy ... break glass <reason>'.",
        ),
        (
            frozen_text(Window(break_glass=("alice", "bob", "carol"))),
            f"{HEAD} alice, bob or carol may say 'deploy ... break glass <reason>'.",
        ),
        (
            frozen_text(NOBODY),
            f"{HEAD} Nobody may break the glass of this freeze: deploy after it ends.",
        ),
        (
            glass_refused_text(Window(), person="carol"),
            f"{HEAD} Only alice or bob may break its glass, not carol.",
        ),
        (
            glass_refused_text(Window(), person=None),
            f"{HEAD} Only alice or bob may break its glass.",
        ),
        (
            glass_refused_text(NOBODY, person="carol"),
            f"{HEAD} Nobody may break the glass of this freeze: deploy after it ends.",
        ),
        (
            glass_needs_reason_text(Window()),
            f"{HEAD} Breaking its glass needs a reason: 'deploy ... break glass <reason>'.",
        ),
        (
            glass_broken_text(Window(), person="alice", reason="hotfix for checkout"),
            "alice breaks the glass of freeze weekend on production (no weekend deploys, until "
            "Mon 7 Dec 07:00 UTC, 08:00 Europe/Berlin): hotfix for checkout. Approvals still "
            "apply.",
        ),
        (frozen_clause(Window()), "frozen until Mon 7 Dec 07:00 UTC (no weekend deploys)"),
    ],
)
def test_freeze_sentences(said: str, expected: str) -> None:
    assert said == expected


FROZEN = "frozen until Mon 7 Dec 07:00 UTC (no weekend deploys)"


@pytest.mark.parametrize(
    ("freeze", "lock", "busy", "expected"),
    [
        (None, None, None, None),
        (Window(), None, None, FROZEN),
        (
            Window(),
            Holder("carol", "audit"),
            None,
            f"{FROZEN}, locked by carol (audit) since 09:05 UTC",
        ),
        (Window(), None, Holder("bob", "deploy backend v2"), f"{FROZEN}, busy: deploy backend v2"),
        # no freeze: the lock's clause exactly as without freezes
        (None, Holder("carol", ""), None, "locked by carol since 09:05 UTC"),
    ],
)
def test_a_frozen_environment_in_where(
    freeze: Window | None, lock: Holder | None, busy: Holder | None, expected: str | None
) -> None:
    said = lock_state_text("production", frozen=lock, busy=busy, freeze=freeze)

    if expected is None:
        assert said is None
    else:
        assert said is not None
        assert said.startswith(expected)
