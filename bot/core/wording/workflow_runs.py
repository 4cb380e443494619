"""The words of a GitHub workflow deploy (pure): what GitHub answered, why a dispatch started
nothing or may have started a run, and what asking to cancel a run came to.
bot/shell/github/ (errors.py, dispatch.py, runs.py) talks to GitHub and reports the facts;
these sentences reach a deploy's result."""

__all__ = [
    "accepted_what",
    "answer_lost_what",
    "answered_text",
    "cancel_asked_note",
    "cancel_failed_note",
    "cancel_too_late_note",
    "dispatch_refused_text",
    "no_run_shown_text",
    "rate_limited_out_text",
    "rate_limited_text",
    "rate_limited_unasked_text",
    "run_unasked_text",
]


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
