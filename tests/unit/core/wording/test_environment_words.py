"""How an environment's locks read (``bot.core.wording.environments``): the ``where`` row's
clause for each kind of holder, and the answers to ``lock``/``unlock``."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from bot.core.wording.environments import (
    already_locked_text,
    held_released_text,
    lock_state_text,
    locked_now_text,
    not_locked_text,
    unlocked_text,
)

SINCE = datetime(2026, 11, 2, 9, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Holder:
    who: str
    why: str
    since: datetime = SINCE
    interrupted: bool = False


@pytest.mark.parametrize(
    ("frozen", "busy", "expected"),
    [
        (None, None, None),
        (Holder("alice", "freeze"), None, "locked by alice (freeze) since 09:05 UTC"),
        (Holder("alice", ""), None, "locked by alice since 09:05 UTC"),
        # a person's lock is what a reader needs first, whatever deploy holds the pair
        (Holder("alice", ""), Holder("bob", "deploy backend v2"), "locked by alice since"),
        (None, Holder("bob", "deploy backend v2"), "busy: deploy backend v2 for bob since 09:05"),
        (
            None,
            Holder("bob", "interrupted deploy", interrupted=True),
            "held: interrupted deploy for bob since 09:05 UTC; an approver says "
            "'unlock production' once it is checked",
        ),
    ],
)
def test_lock_state_text(frozen: Holder | None, busy: Holder | None, expected: str | None) -> None:
    said = lock_state_text("production", frozen=frozen, busy=busy)
    if expected is None:
        assert said is None
    else:
        assert said is not None
        assert said.startswith(expected)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            locked_now_text("production", person="alice", reason="freeze"),
            "production is locked by alice: freeze. Deploys there are refused until "
            "'unlock production'.",
        ),
        (
            locked_now_text("production", person="alice", reason=None),
            "production is locked by alice. Deploys there are refused until 'unlock production'.",
        ),
        (
            already_locked_text("production", holder=Holder("bob", "audit")),
            "Already: production is locked by bob since 09:05 UTC: audit.",
        ),
        (
            held_released_text("production", services=["backend", "web"], person="alice"),
            "production is released for backend, web (held after an interrupted deploy), on "
            "alice's word that it was checked.",
        ),
        (not_locked_text("staging"), "staging is not locked."),
        (
            unlocked_text("production", was_locked_by="bob"),
            "production is unlocked (it was locked by bob).",
        ),
    ],
)
def test_lock_answers(said: str, expected: str) -> None:
    assert said == expected
