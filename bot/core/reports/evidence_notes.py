"""Why the evidence beside an approval request is short of something (pure): no commit
range, no commits, no CI. bot/shell/world/evidence.py gathers the evidence and records
these notes on ``Evidence.note`` (several are joined with ``"; "``)."""

__all__ = [
    "first_deploy_capped_note",
    "first_deploy_note",
    "gathering_timed_out_note",
    "github_failed_note",
    "github_not_configured_note",
    "github_silent_note",
    "no_range_note",
    "not_on_github_note",
    "oldest_listed_note",
    "unknown_service_note",
]


def no_range_note(*, why: str) -> str:
    """No commit range could be read: ``why`` (git's or GitHub's reason, already short)."""
    return f"no commit range: {why}"


def gathering_timed_out_note(*, timeout_s: float) -> str:
    """Gathering the evidence took longer than it may."""
    return no_range_note(why=f"gathering took over {timeout_s:g} s")


def unknown_service_note(*, service: str) -> str:
    """The plan names a service the config does not hold."""
    return f"unknown service {service}"


def not_on_github_note() -> str:
    """The repository is neither a local path nor on the configured GitHub."""
    return no_range_note(why="the repository is not on GitHub or local")


def github_not_configured_note() -> str:
    """The repository is on GitHub, but no GitHub credentials are set."""
    return "GitHub is not configured (GITHUB_TOKEN): no commits or CI"


def first_deploy_capped_note(*, cap: int) -> str:
    """A first deploy's commits (everything up to it) are more than are counted."""
    return f"first deploy: more than {cap} commits, not all counted"


def first_deploy_note() -> str:
    """Nothing is live yet, so GitHub has nothing to compare with."""
    return "first deploy: no earlier version to compare with"


def github_silent_note(*, what: str) -> str:
    """GitHub did not answer ``what`` (``"compare"``, ``"CI status"``) in time."""
    return f"{what}: no answer from GitHub in time"


def github_failed_note(*, what: str, why: str) -> str:
    """GitHub answered ``what`` with an error (``why``, already short)."""
    return f"{what}: {why}"


def oldest_listed_note(*, listed: int) -> str:
    """GitHub's compare lists only the oldest ``listed`` commits of a longer range."""
    return f"GitHub listed only the oldest {listed} commits: see the compare link for the newest"
