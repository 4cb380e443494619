"""The words of a GitHub workflow deploy (pure): what GitHub answered, why a dispatch started
nothing or may have started a run, what asking to cancel a run came to, and what a followed
run came to (its link, conclusion and failed steps; lost, timed out, not seen to complete).
bot/shell/github/ (errors.py, dispatch.py, runs.py, run_rules.py, workflow_deployer.py) talks
to GitHub and reports the facts; these sentences reach a deploy's result."""

from collections.abc import Sequence
from datetime import datetime

__all__ = [
    "accepted_what",
    "answer_lost_what",
    "answered_text",
    "cancel_asked_note",
    "cancel_failed_note",
    "cancel_too_late_note",
    "cancel_unseen_note",
    "cancelled_completed_note",
    "conclusion_line",
    "dispatch_refused_text",
    "failed_line",
    "lost_track_note",
    "no_run_shown_text",
    "not_asked_note",
    "not_found_note",
    "rate_limited_out_text",
    "rate_limited_text",
    "rate_limited_unasked_text",
    "run_line",
    "run_unasked_text",
    "run_unknown_note",
    "succeeded_before_cancel_note",
    "timed_out_note",
]

_MAX_FAILED_SHOWN = 3


def answered_text(*, status: int, message: str) -> str:
    """GitHub answered an error ``status`` (not a rate limit) with ``message``."""
    return f"GitHub answered {status}: {message}"


def rate_limited_text(*, status: int, message: str) -> str:
    """GitHub rate-limited a call (``status`` 403 or 429)."""
    return f"rate limited ({status}): {message}"


def dispatch_refused_text(*, why: object) -> str:
    """GitHub refused the dispatch (a 4xx): nothing started."""
    return f"GitHub refused the dispatch: {why}"


def rate_limited_unasked_text(*, why: object) -> str:
    """Rate limited, and the look for a run with the key failed: not dispatched again."""
    return (
        "rate limited, and GitHub could not be asked whether a run with the "
        f"key exists ({why}); not dispatched again"
    )


def rate_limited_out_text(*, tries: int, within_s: float) -> str:
    """Every dispatch within the dispatch window was rate-limited: nothing was dispatched."""
    return (
        f"GitHub rate-limited the dispatch {tries} times (within "
        f"{within_s:g} s); nothing was dispatched"
    )


def accepted_what() -> str:
    """What happened to a dispatch GitHub answered 204 (the start of a later sentence)."""
    return "GitHub accepted the dispatch"


def answer_lost_what(*, why: object) -> str:
    """What happened to a dispatch whose answer was lost (a 5xx, no answer)."""
    return f"the dispatch's answer was lost ({why})"


def run_unasked_text(*, what: str, why: object) -> str:
    """After ``what`` (``accepted_what``, ``answer_lost_what``), GitHub could not be asked."""
    return f"{what}, but GitHub could not be asked for its run ({why}); it may have started one"


def no_run_shown_text(*, what: str, find_s: float, key_input: str) -> str:
    """After ``what``, no run showing the key appeared within ``find_s``."""
    return (
        f"{what}, but no run showing its key appeared within "
        f"{find_s:g} s; GitHub may still start it (does the "
        f"workflow's run-name show inputs.{key_input}?)"
    )


def cancel_too_late_note() -> str:
    """Asked to cancel a run that had already completed (GitHub's 409)."""
    return "deploybot: the run had already completed when it was cancelled"


def cancel_failed_note(*, why: object) -> str:
    """Asking GitHub to cancel a run failed."""
    return f"deploybot: cancelling the run failed: {why}"


def cancel_asked_note() -> str:
    """GitHub was asked to cancel a run (it goes on for a while after)."""
    return "deploybot: asked GitHub to cancel the run"


def run_line(*, url: str) -> str:
    """The first line of a workflow deploy's output: where its run is."""
    return f"workflow run {url}"


def conclusion_line(*, conclusion: str | None) -> str:
    """What GitHub says the run came to (its conclusion, else its status)."""
    return f"conclusion: {conclusion}"


def failed_line(*, failed: Sequence[str]) -> str:
    """The failed jobs (``job / first failed step``), the first three and how many more;
    "" when none failed."""
    if not failed:
        return ""
    extra = len(failed) - _MAX_FAILED_SHOWN
    more = f" (+{extra} more)" if extra > 0 else ""
    return "failed: " + "; ".join(failed[:_MAX_FAILED_SHOWN]) + more


def run_unknown_note(*, why: object) -> str:
    """The run could not be known (a dispatch that started nothing or may have started one:
    ``why`` worded above)."""
    return f"deploybot: {why}"


def not_asked_note(*, why: object) -> str:
    """After a crash, GitHub could not be asked for the run."""
    return f"deploybot: GitHub could not be asked for the run: {why}"


def not_found_note(*, key: str, until: datetime) -> str:
    """After a crash, no run showing ``key`` appeared by the end of the find window."""
    return (
        f"deploybot: no run showing key {key} appeared on GitHub by "
        f"{until:%H:%M:%S} UTC (the dispatch's find window); GitHub may still start one"
    )


def lost_track_note(*, why: object) -> str:
    """GitHub refused to show our own run while it was followed: it goes on unseen."""
    return f"deploybot: lost track of the run, which may still be running: {why}"


def timed_out_note(*, timeout_s: float) -> str:
    """The run went past the service's ``timeout_s`` (it is then cancelled)."""
    return f"deploybot: timed out after {timeout_s:g} s"


def cancel_unseen_note(*, wait_s: float) -> str:
    """GitHub did not report the cancelled run completed within ``wait_s``."""
    return (
        f"deploybot: GitHub has not reported the run completed {wait_s:g} s later: it may "
        "still be deploying"
    )


def succeeded_before_cancel_note(*, timed_out: str) -> str:
    """The run timed out (``timed_out``: ``timed_out_note``) but succeeded before the cancel."""
    return f"{timed_out}; the run succeeded before the cancel took hold"


def cancelled_completed_note(*, asked: str) -> str:
    """After ``asked`` (what asking to cancel came to), GitHub reports the run completed."""
    return f"{asked}; GitHub reports it completed"
