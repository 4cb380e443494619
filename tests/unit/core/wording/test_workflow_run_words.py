"""Sentences bot/shell/github/ (errors.py, dispatch.py, runs.py) wrote before they moved to
bot.core.wording.workflow_runs, pinned exactly as they reach a deploy's result."""

import pytest

from bot.core.wording import workflow_runs as words


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
    ],
)
def test_workflow_run_words(said: str, expected: str) -> None:
    assert said == expected
