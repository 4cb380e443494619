"""Sentences bot/shell/loop (entry.py, turn.py) and bot/shell/lock/lease.py wrote before they
moved to bot.core.wording, pinned exactly as people read them: the reasons inside the
set-aside notice, a turn stopped, and why no lock is granted after Redis lost data."""

import pytest

from bot.core.wording.environments import quiet_lock_why
from bot.core.wording.set_aside import (
    keeps_failing_reason,
    no_thread_reason,
    set_aside_text,
    undecodable_reason,
)
from bot.core.wording.turns import too_many_steps_message


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (undecodable_reason(), "not a valid inbound envelope"),
        (keeps_failing_reason(failures=5), "failed 5 times"),
        (no_thread_reason(thread_id="slack:C1:171.2"), "no thread slack:C1:171.2"),
        (
            set_aside_text(keeps_failing_reason(failures=3)),
            "I could not process a message in this thread (failed 3 times); it was set aside "
            "for an operator. Nothing was deployed because of it.",
        ),
        (too_many_steps_message(), "stopped after too many steps"),
        (quiet_lock_why(), "a lock from before Redis lost data must run out first"),
    ],
)
def test_loop_and_lock_words(said: str, expected: str) -> None:
    assert said == expected
