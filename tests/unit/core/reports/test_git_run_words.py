"""Reasons bot/shell/world/tags.py wrote inside ``ToolFailed`` before they moved to
bot.core.reports.git_runs, pinned exactly as they reach evidence notes and lineage reasons."""

import pytest

from bot.core.reports import git_runs as words


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            words.cannot_list_tags_what(repo="https://***@git.test/acme/backend.git"),
            "cannot list tags of https://***@git.test/acme/backend.git",
        ),
        (
            words.cannot_run_text(what="git log", error="No such file or directory"),
            "git log: cannot run git: No such file or directory",
        ),
        (
            words.timed_out_text(what="cannot list tags of /srv/repo", timeout_s=0.3),
            "cannot list tags of /srv/repo: git timed out after 0.3 s",
        ),
        (
            words.timed_out_text(what="git rev-list", timeout_s=10.0),
            "git rev-list: git timed out after 10 s",
        ),
        (words.exit_code_reason(code=128), "git exit code 128"),
        (words.exit_code_reason(code=None), "git exit code None"),
        (
            words.failed_text(what="git rev-list", reason="bad revision 'abc...def'"),
            "git rev-list: bad revision 'abc...def'",
        ),
    ],
)
def test_git_run_words(said: str, expected: str) -> None:
    assert said == expected
