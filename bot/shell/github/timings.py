"""How long deploybot waits for GitHub, as frozen values: the workflow deployer's stages
(``WorkflowTimings``, which the wiring fills from the settings, ``DEPLOYBOT_GITHUB_*``) and
the client's own requests and retries (``ApiTimings``). Tests shorten both."""

from dataclasses import dataclass

__all__ = ["DEFAULT_API_TIMINGS", "DEFAULT_TIMINGS", "ApiTimings", "WorkflowTimings"]


@dataclass(frozen=True, kw_only=True)
class WorkflowTimings:
    #: How often a run and its jobs are read while it is followed.
    poll_s: float = 5
    #: How long after the dispatch window the run is looked for among everyone's.
    find_s: float = 120
    #: How long a cancelled run is waited for until GitHub reports it completed.
    cancel_wait_s: float = 300
    #: How long the dispatch itself may be retried.
    dispatch_s: float = 300
    #: Dispatch attempts within ``dispatch_s``.
    dispatch_attempts: int = 3
    #: The longest wait a rate limit may ask for before a retry.
    max_wait_s: float = 120
    #: Runs created this long before the dispatch are still candidates (clock skew).
    created_margin_s: float = 120


#: What GitHub.com answers within, measured; the settings may lengthen or shorten each.
DEFAULT_TIMINGS = WorkflowTimings()


@dataclass(frozen=True, kw_only=True)
class ApiTimings:
    """One request's bounds and its retries (bot/shell/github/client.py)."""

    #: The whole answer of one request.
    timeout_s: float = 10
    #: Tries in all, the first included.
    attempts: int = 4
    #: The first back-off after a 5xx, a timeout or a dropped connection; doubled each time.
    backoff_s: float = 1
    #: The longest wait a back-off or a rate limit may ask for.
    max_wait_s: float = 60

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.timeout_s <= 0 or self.backoff_s < 0 or self.max_wait_s < 0:
            raise ValueError("attempts >= 1, timeout_s > 0, backoff_s and max_wait_s >= 0")


DEFAULT_API_TIMINGS = ApiTimings()
