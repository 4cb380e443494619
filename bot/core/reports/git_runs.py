"""Why asking git failed (pure): the reason inside a ``ToolFailed`` that
bot/shell/world/tags.py raises when listing a repository's tags, reading commit subjects or
counting commits between two. The shell runs git and reports what happened; these reasons
reach people through evidence notes and lineage reasons."""

__all__ = [
    "cannot_list_tags_what",
    "cannot_run_text",
    "exit_code_reason",
    "failed_text",
    "timed_out_text",
]


def cannot_list_tags_what(*, repo: str) -> str:
    """What was being done when listing the tags of ``repo`` (already redacted) failed."""
    return f"cannot list tags of {repo}"


def cannot_run_text(*, what: str, error: str) -> str:
    """git itself could not be started (``error``: the OS's words)."""
    return f"{what}: cannot run git: {error}"


def timed_out_text(*, what: str, timeout_s: float) -> str:
    """git did not finish within ``timeout_s`` and was stopped."""
    return f"{what}: git timed out after {timeout_s:g} s"


def exit_code_reason(*, code: int | None) -> str:
    """git failed and said nothing on stderr: its exit code is all there is."""
    return f"git exit code {code}"


def failed_text(*, what: str, reason: str) -> str:
    """git failed with ``reason`` (its stderr's line, else ``exit_code_reason``)."""
    return f"{what}: {reason}"
