"""Sentences bot/shell/github/ (errors.py, dispatch.py, runs.py, run_rules.py,
workflow_deployer.py) wrote before they moved to
bot.core.reports.workflow_runs, pinned exactly as they reach a deploy's result."""

from datetime import UTC, datetime

import pytest

from bot.core.reports import workflow_runs as words


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            words.answered_text(status=502, message="Bad Gateway"),
            "GitHub answered 502: Bad Gateway",
        ),
        (
            words.rate_limited_text(status=429, message="slow down"),
            "rate limited (429): slow down",
        ),
        (
            words.dispatch_refused_text(why="GitHub answered 422: no such input"),
            "GitHub refused the dispatch: GitHub answered 422: no such input",
        ),
        (
            words.rate_limited_unasked_text(why="GitHub answered 503: down"),
            "rate limited, and GitHub could not be asked whether a run with the key exists "
            "(GitHub answered 503: down); not dispatched again",
        ),
        (
            words.rate_limited_out_text(tries=3, within_s=300.0),
            "GitHub rate-limited the dispatch 3 times (within 300 s); nothing was dispatched",
        ),
        (words.accepted_what(), "GitHub accepted the dispatch"),
        (
            words.answer_lost_what(why=TimeoutError("read timed out")),
            "the dispatch's answer was lost (read timed out)",
        ),
        (
            words.run_unasked_text(what="GitHub accepted the dispatch", why="no answer"),
            "GitHub accepted the dispatch, but GitHub could not be asked for its run (no "
            "answer); it may have started one",
        ),
        (
            words.no_run_shown_text(
                what="GitHub accepted the dispatch", find_s=120.0, key_input="deploy_key"
            ),
            "GitHub accepted the dispatch, but no run showing its key appeared within 120 s; "
            "GitHub may still start it (does the workflow's run-name show inputs.deploy_key?)",
        ),
        (
            words.cancel_too_late_note(),
            "deploybot: the run had already completed when it was cancelled",
        ),
        (
            words.cancel_failed_note(why="GitHub answered 500: oops"),
            "deploybot: cancelling the run failed: GitHub answered 500: oops",
        ),
        (words.cancel_asked_note(), "deploybot: asked GitHub to cancel the run"),
        (
            words.run_line(url="https://github.test/acme/backend/actions/runs/9"),
            "workflow run https://github.test/acme/backend/actions/runs/9",
        ),
        (words.conclusion_line(conclusion="failure"), "conclusion: failure"),
        (words.failed_line(failed=[]), ""),
        (words.failed_line(failed=["build / test"]), "failed: build / test"),
        (
            words.failed_line(failed=["a / x", "b", "c / y"]),
            "failed: a / x; b; c / y",
        ),
        (
            words.failed_line(failed=["a", "b", "c", "d", "e"]),
            "failed: a; b; c (+2 more)",
        ),
        (
            words.run_unknown_note(why="GitHub refused the dispatch: GitHub answered 422: x"),
            "deploybot: GitHub refused the dispatch: GitHub answered 422: x",
        ),
        (
            words.not_asked_note(why="GitHub answered 502: Bad Gateway"),
            "deploybot: GitHub could not be asked for the run: GitHub answered 502: Bad Gateway",
        ),
        (
            words.not_found_note(
                key="dbk-1:backend:prod", until=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
            ),
            "deploybot: no run showing key dbk-1:backend:prod appeared on GitHub by 05:06:07 "
            "UTC (the dispatch's find window); GitHub may still start one",
        ),
        (
            words.lost_track_note(why="GitHub answered 404: Not Found"),
            "deploybot: lost track of the run, which may still be running: GitHub answered "
            "404: Not Found",
        ),
        (words.timed_out_note(timeout_s=900.0), "deploybot: timed out after 900 s"),
        (words.timed_out_note(timeout_s=0.5), "deploybot: timed out after 0.5 s"),
        (
            words.cancel_unseen_note(wait_s=120.0),
            "deploybot: GitHub has not reported the run completed 120 s later: it may still "
            "be deploying",
        ),
        (
            words.succeeded_before_cancel_note(timed_out="deploybot: timed out after 60 s"),
            "deploybot: timed out after 60 s; the run succeeded before the cancel took hold",
        ),
        (
            words.cancelled_completed_note(asked="deploybot: asked GitHub to cancel the run"),
            "deploybot: asked GitHub to cancel the run; GitHub reports it completed",
        ),
    ],
)
def test_workflow_run_words(said: str, expected: str) -> None:
    assert said == expected
