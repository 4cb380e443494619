"""What a recovering worker may take as a dead worker's deploy result
(``bot.core.policy.recovery``): the history's line for that start, else the target's answer
when it tells, else nothing (the deploy is interrupted and held for a person)."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.policy.recovery import ReadBack, from_recorded, from_target
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.plan import DeployRecord, Plan

STARTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="a" * 40,
    requester="alice",
)


def line(
    *,
    thread_id: str = "t1",
    version: str = "v1.4.2",
    sha: str = "a" * 40,
    kind: str = "deploy",
    result: str = "succeeded",
    after_s: float = 30,
) -> DeployRecord:
    return DeployRecord(
        thread_id=thread_id,
        kind=kind,  # type: ignore[arg-type]
        version=version,
        sha=sha,
        requester="alice",
        result=result,  # type: ignore[arg-type]
        at=(STARTED + timedelta(seconds=after_s)).isoformat(),
    )


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], None),
        ([line()], "succeeded"),
        ([line(result="failed")], "failed"),
        ([line(result="timed_out")], "timed_out"),
        ([line(result="interrupted")], None),  # nobody knew then either
        ([line(thread_id="t2")], None),  # another thread's deploy
        ([line(version="v1.4.1")], None),
        ([line(sha="b" * 40)], None),  # the same name for another commit
        ([line(kind="rollback")], None),
        ([line(after_s=-60)], None),  # an earlier run, before this start
        ([line(result="interrupted"), line(result="succeeded")], None),  # the newest counts
    ],
)
def test_from_recorded(history: list[DeployRecord], expected: str | None) -> None:
    known = from_recorded(history, thread_id="t1", plan=PLAN, started_at=STARTED)
    if expected is None:
        assert known is None
    else:
        assert known == ReadBack(
            result=expected,  # type: ignore[arg-type]
            finished_at=STARTED + timedelta(seconds=30),
        )


def answer(result: str, exit_code: int | None) -> DeployResult:
    return DeployResult(
        result=result,  # type: ignore[arg-type]
        exit_code=exit_code,
        duration_s=1,
        output_tail="",
    )


@pytest.mark.parametrize(
    ("asked", "on_github", "tells"),
    [
        (None, False, False),  # no status command
        (answer("succeeded", 0), False, True),
        (answer("failed", 1), False, True),
        (answer("failed", 3), False, False),  # exit 3: it does not know the key
        (answer("timed_out", None), False, False),  # the status command's own timeout
        (answer("failed", None), True, True),  # a workflow run's result is GitHub's word
        (answer("timed_out", None), True, True),
        (OutcomeUnknown(reason="not found", duration_s=1), True, False),
    ],
)
def test_from_target(
    asked: DeployResult | OutcomeUnknown | None, on_github: bool, tells: bool
) -> None:
    told = from_target(asked, on_github=on_github)
    assert told == (asked if tells else None)
