"""Why git or GitHub cannot say how a planned commit stands to the live one (pure): the
``why`` of an ``unknown`` ``bot.core.thread.plan.Lineage``. bot/shell/world/tags.py (local
git) and bot/shell/world/lookups.py (GitHub's compare) report the fact and record these."""

__all__ = [
    "compare_failed_why",
    "compare_said_why",
    "git_answered_else_why",
    "github_not_configured_why",
    "github_silent_why",
    "not_full_sha_why",
    "not_on_this_machine_why",
]


def not_full_sha_why() -> str:
    """One of the two commits is not a full sha, so git cannot be asked."""
    return "not a full commit sha"


def not_on_this_machine_why() -> str:
    """The repository is not a local path, and not on the configured GitHub."""
    return "the repository is not on this machine"


def git_answered_else_why() -> str:
    """``git rev-list --count`` printed something that is not two counts."""
    return "git rev-list answered something else"


def github_not_configured_why() -> str:
    """The repository is on GitHub, but no GitHub credentials are set."""
    return "GitHub is not configured (GITHUB_TOKEN)"


def github_silent_why() -> str:
    """GitHub's compare did not answer in time."""
    return "no answer from GitHub in time"


def compare_failed_why(*, why: str) -> str:
    """GitHub's compare answered with an error (``why``, already short and redacted)."""
    return f"GitHub compare: {why}"


def compare_said_why(*, status: str) -> str:
    """GitHub's compare answered a status this bot does not know."""
    return f"GitHub compare said {status!r}"
