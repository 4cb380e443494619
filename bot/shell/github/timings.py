"""How long the workflow deployer waits for GitHub at each stage, as one frozen value the
wiring fills from the settings (``DEPLOYBOT_GITHUB_*``) and tests shorten."""

from dataclasses import dataclass

__all__ = ["DEFAULT_TIMINGS", "WorkflowTimings"]


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
