"""GitHub's errors: a request that did not succeed, by what it says about GitHub's side.

- ``GithubRateLimited``: refused for a rate limit; GitHub did not act on it (``wait_s``: how
  long it asked to wait);
- ``GithubUnavailable``: a 5xx, a timeout or a lost connection; GitHub may or may not have
  acted on it;
- ``GithubRefused``: any other 4xx; GitHub did not act on it and will not on a retry.

``classify`` turns an answer that was not 2xx into one of them (pure: the client in
bot/shell/github/client.py does the I/O and decides the retries).
"""

from collections.abc import Mapping

from bot.core.reports import workflow_runs as words

__all__ = [
    "GithubError",
    "GithubRateLimited",
    "GithubRefused",
    "GithubUnavailable",
    "classify",
]


class GithubError(Exception):
    """A GitHub request that did not succeed; ``status`` is None when no answer came."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GithubRateLimited(GithubError):
    """Refused for a rate limit: GitHub did not act on it. ``wait_s``: what it asked for."""

    def __init__(self, message: str, *, status: int, wait_s: float) -> None:
        super().__init__(message, status=status)
        self.wait_s = wait_s


class GithubUnavailable(GithubError):
    """A 5xx, a timeout or a lost connection: GitHub may or may not have acted on it."""


class GithubRefused(GithubError):
    """Any other 4xx: GitHub did not act on it and will not on a retry."""


def classify(status: int, headers: Mapping[str, str], message: str, *, now_s: float) -> GithubError:
    """The error for an answer that was not 2xx (headers: lowercase keys)."""
    retry_after = headers.get("retry-after")
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    limited = status == 429 or (status == 403 and (retry_after is not None or remaining == "0"))
    if limited:
        wait_s = 60.0  # GitHub's advice when it says nothing (or nothing we can read)
        if (after_s := _seconds(retry_after)) is not None:
            wait_s = after_s
        elif remaining == "0" and (reset_s := _seconds(reset)) is not None:
            wait_s = max(0.0, reset_s - now_s)
        limited_text = words.rate_limited_text(status=status, message=message)
        return GithubRateLimited(limited_text, status=status, wait_s=wait_s)
    if status >= 500:
        return GithubUnavailable(words.answered_text(status=status, message=message), status=status)
    return GithubRefused(words.answered_text(status=status, message=message), status=status)


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # e.g. an HTTP date in retry-after
    return seconds if seconds is not None and 0 <= seconds < 1e11 else None
