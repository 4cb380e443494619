"""The words around running a plan (``bot.core.wording.deploys``), kept exactly as the shell
wrote them before they moved here."""

from datetime import UTC, datetime

import pytest

from bot.core.thread.plan import Plan
from bot.core.wording.deploys import (
    already_started_text,
    busy_text,
    drift_text,
    frozen_not_run_text,
    held_for_text,
    lock_for_text,
    not_remade_text,
    status_note,
    status_unknown_text,
    under_replicated_tail,
)

PLAN = Plan(
    kind="rollback",
    service="backend",
    environment="production",
    version="v1.4.1",
    sha="a" * 40,
    requester="alice",
)
ID = PLAN.short_id


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (lock_for_text(PLAN), "rollback backend v1.4.1"),
        (held_for_text(PLAN), "interrupted rollback of backend v1.4.1 (outcome unknown)"),
        (frozen_not_run_text(PLAN, refusal="Locked."), f"Locked. Plan #{ID} did not run."),
        (
            busy_text(
                PLAN,
                who="bob",
                why="deploy backend v2",
                since=datetime(2026, 11, 2, 9, 5, tzinfo=UTC),
                thread_id="t9",
            ),
            "backend in production is busy: deploy backend v2 for bob since 09:05 UTC "
            f"(thread t9). Plan #{ID} did not run; ask again when it is free.",
        ),
        (
            already_started_text(PLAN),
            f"Plan #{ID} has already been started once in this thread; it is never run twice. "
            "Ask for a new deploy if needed.",
        ),
        (
            under_replicated_tail(acked=0, replicas=1, timeout_ms=500),
            "deploybot: not run: the start of this deploy reached 0 of 1 Redis replicas within "
            "500 ms (DEPLOYBOT_REDIS_REPLICAS), so a failover could run it twice. Nothing was "
            "deployed; ask again once Redis replication is healthy.",
        ),
        (drift_text(PLAN, reason="Moved.", remade=False), f"Plan #{ID} did not run: Moved."),
        (
            drift_text(PLAN, reason="Moved.", remade=True),
            f"Plan #{ID} did not run: Moved. It is made again from what is live now, for a "
            "fresh approval.",
        ),
        (
            not_remade_text(reason="Moved.", failed_version="v1.4.2"),
            "Moved. It was the bot's rollback of v1.4.2 after its failed verification; it is "
            "not made again against what is live now, so nothing is rolled back.",
        ),
        (
            status_note(result="timed_out", from_run=False, tail=""),
            "deploybot: the worker stopped during the deploy; the service's status command "
            "says it timed out.",
        ),
        (
            status_note(result="succeeded", from_run=True, tail="done"),
            "deploybot: the worker stopped during the deploy; the workflow run it dispatched "
            "(found by its key) says it succeeded.\ndone",
        ),
        (status_unknown_text("Lost.", reason=None, asked=False), "Lost."),
        (
            status_unknown_text("Lost.", reason=None, asked=True),
            "Lost. (Its status command could not tell either.)",
        ),
        (status_unknown_text("Lost.", reason="no run", asked=True), "Lost.\nno run"),
    ],
)
def test_words(said: str, expected: str) -> None:
    assert said == expected
