"""Has a plan's idempotency key run already? The pure decisions of bot/core/policy/prior_run.py:
what the history and a status command's answer say, and what a restored thread gets instead
of a second run (its start put back, the approval used up, the text everywhere the request
went). The real thing, with Redis rolled back: tests/integration/shell/deploy/test_prior_run.py and
tests/faults/test_rdb_rollback.py."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from bot.core.policy.prior_run import (
    PriorRun,
    already_ran_events,
    already_ran_text,
    from_history,
    from_status,
)
from bot.core.thread.deploy_result import DeployResult
from bot.core.thread.events import (
    ApprovalDecided,
    ApprovalRequested,
    DeployInterrupted,
    DeployStarted,
    ErrorRecorded,
    MessageSent,
    PlanProposed,
    UserMessage,
)
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import DeployRecord, Plan
from bot.core.thread.thread import Thread

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha="b" * 40,
    previous_version="v1.4.1",
    previous_sha="a" * 40,
    requester="carol",
)
KEY = f"t1:{PLAN.plan_hash}"


def record(
    key: str | None, result: str = "succeeded", at: str = "2026-11-02T09:10:00+00:00"
) -> DeployRecord:
    return DeployRecord(
        thread_id="t1",
        kind="deploy",
        version="v1.4.2",
        sha="b" * 40,
        requester="carol",
        result=result,  # type: ignore[arg-type]
        at=at,
        idempotency_key=key,
    )


def test_the_history_knows_a_key_by_its_key_only() -> None:
    """The same thread, version and commit without the key (an older record, or another
    attempt) is not this plan: an attempt asked again after a failure must still run."""
    older = record(None)
    other_attempt = record("t1:another-hash")
    assert from_history([older, other_attempt], key=KEY) is None
    assert from_history([], key=KEY) is None
    found = from_history([other_attempt, record(KEY, "failed"), older], key=KEY)
    assert found == PriorRun(
        result="failed", source="history", at=datetime(2026, 11, 2, 9, 10, tzinfo=UTC)
    )
    newest = from_history([record(KEY, "interrupted"), record(KEY, "succeeded")], key=KEY)
    assert newest is not None
    assert newest.result == "interrupted"


def result(exit_code: int | None, *, link: str | None = None, res: str = "failed") -> DeployResult:
    return DeployResult(
        result=res,  # type: ignore[arg-type]
        exit_code=exit_code,
        duration_s=0.1,
        output_tail="",
        link=link,
    )


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (None, None),  # no status command
        (result(0, res="succeeded"), PriorRun(result="succeeded", source="status")),
        (result(1), PriorRun(result="failed", source="status")),
        (result(2), PriorRun(result="interrupted", source="status")),
        (result(3), None),  # it does not know the key: the plan may run
        (result(127), None),  # a status command that cannot run says nothing
        (result(None, res="timed_out"), None),  # nor one that hangs past its timeout
        (result(-9), None),
        (
            result(None, link="https://github.test/run/7", res="timed_out"),
            PriorRun(result="timed_out", source="workflow", link="https://github.test/run/7"),
        ),
    ],
)
def test_what_a_status_answer_says(asked: DeployResult | None, expected: PriorRun | None) -> None:
    assert from_status(asked) == expected


@pytest.mark.parametrize(
    ("prior", "held", "says"),
    [
        (
            PriorRun(
                result="succeeded", source="history", at=datetime(2026, 11, 2, 9, 10, tzinfo=UTC)
            ),
            False,
            "already ran at 2026-11-02 09:10 UTC and succeeded (the deploy history says so)",
        ),
        (
            PriorRun(result="failed", source="status"),
            False,
            "already ran and failed (its service's status command says so, asked by the "
            "plan's idempotency key)",
        ),
        (
            PriorRun(result="timed_out", source="workflow", link="https://github.test/run/7"),
            False,
            "already ran and timed out (the workflow run it dispatched says so: "
            "https://github.test/run/7)",
        ),
        (
            PriorRun(result="interrupted", source="status"),
            True,
            "already started, and its outcome is unknown (it was interrupted)",
        ),
    ],
)
def test_the_text_says_what_ran_who_says_so_and_that_it_will_not_run_again(
    prior: PriorRun, held: bool, says: str
) -> None:
    text = already_ran_text(PLAN, prior, held=held)
    assert text.startswith(f"Plan #{PLAN.short_id} (backend v1.4.2 ")
    assert says in text, text
    assert "it is not run again and no approval counts for it again" in text
    assert text.endswith("Ask for the deploy again if a new run is wanted.")
    assert ("production stays held for backend until an approver" in text) is held


def restored_thread() -> Thread:
    """A thread as an older copy of Redis gives it back: approved, never started."""
    ids = (f"e{n}" for n in count())
    at = NOW - timedelta(minutes=20)
    return Thread(
        id="t1",
        origin=ApiOrigin(),
        created_at=at,
        events=[
            UserMessage(id=next(ids), at=at, actor="slack:U0CAROL", text="deploy backend v1.4.2"),
            PlanProposed(id=next(ids), at=at, plan=PLAN),
            ApprovalRequested(
                id=next(ids),
                at=at,
                plan_hash=PLAN.plan_hash,
                approvers=["alice", "bob"],
                min_approvals=1,
                expires_at=at + timedelta(hours=1),
            ),
            MessageSent(id="card", at=at, text="approve?", purpose="approval_request"),
            MessageSent(
                id="copy",
                at=at,
                text="approve?",
                purpose="approval_request",
                route="slack:C0DEPLOYS",
            ),
            ApprovalDecided(
                id=next(ids),
                at=NOW,
                plan_hash=PLAN.plan_hash,
                actor="slack:U0ALICE",
                person="alice",
                decision="approve",
            ),
        ],
    )


@pytest.mark.parametrize("result_", ["succeeded", "failed", "interrupted"])
def test_the_thread_gets_its_start_back_and_the_approval_is_used_up(result_: str) -> None:
    thread = restored_thread()
    assert thread.open_approval() is not None
    ids = (f"n{n}" for n in count())
    prior = PriorRun(result=result_, source="history", at=NOW)  # type: ignore[arg-type]
    events = already_ran_events(
        thread, PLAN, prior, key=KEY, token=7, held=False, now=NOW, new_id=lambda: next(ids)
    )
    started, interrupted, refused, *said = events
    assert isinstance(started, DeployStarted)
    assert (started.plan_hash, started.idempotency_key, started.fencing_token) == (
        PLAN.plan_hash,
        KEY,
        7,
    )
    assert isinstance(interrupted, DeployInterrupted)
    assert isinstance(refused, ErrorRecorded)
    assert refused.kind == "refused"
    # The text replaces the request where it was posted: the thread's card and its copy.
    assert [(m.replaces, m.route) for m in said if isinstance(m, MessageSent)] == [
        ("card", None),
        ("copy", "slack:C0DEPLOYS"),
    ]
    assert all(isinstance(m, MessageSent) and m.text == refused.message for m in said)
    thread.events.extend(events)
    assert thread.started(PLAN.plan_hash)
    assert thread.open_approval() is None  # no approval counts for it again
    assert thread.unfinished_deploy() is None  # nothing for a recovery to take up
    assert thread.status == "awaiting_human"
    assert thread.fresh_attempt(PLAN).attempt == 2  # asked again: a new attempt, a new key
