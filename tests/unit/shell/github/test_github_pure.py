"""The pure parts of the GitHub target, table-tested: which answers are rate limits and for
how long, which run title shows a key, the dispatch inputs, progress and the result text."""

from datetime import UTC, datetime

import pytest

from bot.core.config.service import GithubWorkflow
from bot.core.thread.plan import Plan
from bot.shell.github.errors import GithubRateLimited, GithubRefused, GithubUnavailable, classify
from bot.shell.github.models import RunJob, WorkflowRun
from bot.shell.github.run_rules import fill_inputs, has_key, progress_of, result_of, summary_of

NOW_S = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "headers", "kind", "wait_s"),
    [
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW_S) + 42)},
            GithubRateLimited,
            42,
        ),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW_S) - 5)},
            GithubRateLimited,
            0,
        ),
        (403, {"retry-after": "7"}, GithubRateLimited, 7),  # a secondary rate limit
        (
            429,
            {
                "retry-after": "3",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(NOW_S) + 99),
            },
            GithubRateLimited,
            3,
        ),
        (429, {}, GithubRateLimited, 60),
        (429, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, GithubRateLimited, 60),
        (403, {"x-ratelimit-remaining": "12"}, GithubRefused, None),  # no permission
        (403, {}, GithubRefused, None),
        (404, {}, GithubRefused, None),
        (422, {}, GithubRefused, None),
        (500, {}, GithubUnavailable, None),
        (502, {"retry-after": "1"}, GithubUnavailable, None),
    ],
)
def test_classify(status: int, headers: dict[str, str], kind: type, wait_s: float | None) -> None:
    error = classify(status, headers, "message", now_s=NOW_S)
    assert type(error) is kind
    assert error.status == status
    if wait_s is not None:
        assert isinstance(error, GithubRateLimited)
        assert error.wait_s == wait_s


KEY = "th-1:abcdef0123456789"


@pytest.mark.parametrize(
    ("title", "found"),
    [
        (f"deploy v1 [{KEY}]", True),
        (KEY, True),
        (f"deploy v1 {KEY}", True),
        (f"deploy v1 [{KEY}0]", False),  # a longer key that starts with ours
        (f"deploy v1 [x{KEY}]", False),  # ... or ends with it
        (f"deploy v1 [{KEY[:-1]}]", False),
        ("deploy v1", False),
        ("", False),
    ],
)
def test_has_key(title: str, found: bool) -> None:
    assert has_key(title, KEY) is found


def test_has_key_never_matches_an_empty_key() -> None:
    assert has_key("anything", "") is False


PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1; rm -rf {sha}",
    sha="abc123",
    previous_version=None,
    requester="alice",
)


def test_fill_inputs_fills_once_and_the_key_input_cannot_be_replaced() -> None:
    target = GithubWorkflow(
        github_workflow="acme/backend/.github/workflows/deploy.yml",
        inputs={
            "version": "{version}",
            "where": "{environment}@{sha}",
            "prev": "{previous_version}",
            "deploybot_key": "spoofed",
        },
    )
    assert fill_inputs(target, plan=PLAN, idempotency_key=KEY) == {
        "version": "v1; rm -rf {sha}",  # a value is not expanded again
        "where": "production@abc123",
        "prev": "",
        "deploybot_key": KEY,
    }


@pytest.mark.parametrize(
    ("conclusion", "result"),
    [
        ("success", "succeeded"),
        ("failure", "failed"),
        ("cancelled", "failed"),
        ("timed_out", "failed"),
        ("action_required", "failed"),
        ("neutral", "failed"),
        (None, "failed"),
    ],
)
def test_result_of(conclusion: str | None, result: str) -> None:
    assert result_of(conclusion) == result


def _run(status: str, conclusion: str | None = None) -> WorkflowRun:
    return WorkflowRun(
        id=9,
        status=status,
        conclusion=conclusion,
        html_url="https://github.test/acme/backend/actions/runs/9",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _job(
    name: str, status: str, conclusion: str | None, steps: list[tuple[str, str, str | None]]
) -> RunJob:
    return RunJob.model_validate(
        {
            "id": 1,
            "name": name,
            "status": status,
            "conclusion": conclusion,
            "steps": [{"name": n, "status": s, "conclusion": c} for n, s, c in steps],
        }
    )


def test_progress_is_the_running_job_and_step() -> None:
    jobs = [
        _job("build", "completed", "success", [("Build", "completed", "success")]),
        _job(
            "deploy",
            "in_progress",
            None,
            [("Checkout", "completed", "success"), ("Deploy", "in_progress", None)],
        ),
        _job("smoke", "queued", None, []),
    ]
    progress = progress_of(_run("in_progress"), jobs)
    assert (progress.status, progress.job, progress.step) == ("in_progress", "deploy", "Deploy")
    assert progress.text() == (
        "in_progress: deploy / Deploy (https://github.test/acme/backend/actions/runs/9)"
    )
    queued = progress_of(_run("queued"), [])
    assert (queued.job, queued.step, queued.text().split(" ")[0]) == (None, None, "queued")


def test_summary_names_the_failed_jobs_and_steps() -> None:
    jobs = [
        _job("build", "completed", "success", [("Build", "completed", "success")]),
        _job(
            "deploy",
            "completed",
            "failure",
            [
                ("Checkout", "completed", "success"),
                ("Deploy", "completed", "failure"),
                ("Notify", "completed", "skipped"),
            ],
        ),
        _job("lint", "completed", "cancelled", []),
    ]
    assert summary_of(_run("completed", "failure"), jobs).splitlines() == [
        "workflow run https://github.test/acme/backend/actions/runs/9",
        "conclusion: failure",
        "failed: deploy / Deploy; lint",
    ]
    assert "failed" not in summary_of(_run("completed", "success"), jobs[:1])
