"""Sentences world/evidence.py, world/tags.py and world/lookups.py wrote before they moved to
bot.core.wording (evidence_notes: why the evidence is short of something; lineage: why
git or GitHub cannot say how two commits relate), pinned exactly as people read them."""

import pytest

from bot.core.reports import evidence_notes as notes
from bot.core.reports import lineage


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            notes.no_range_note(why="git log: bad revision"),
            "no commit range: git log: bad revision",
        ),
        (
            notes.gathering_timed_out_note(timeout_s=10.0),
            "no commit range: gathering took over 10 s",
        ),
        (
            notes.gathering_timed_out_note(timeout_s=2.5),
            "no commit range: gathering took over 2.5 s",
        ),
        (notes.unknown_service_note(service="backend"), "unknown service backend"),
        (notes.not_on_github_note(), "no commit range: the repository is not on GitHub or local"),
        (
            notes.github_not_configured_note(),
            "GitHub is not configured (GITHUB_TOKEN): no commits or CI",
        ),
        (
            notes.first_deploy_capped_note(cap=500),
            "first deploy: more than 500 commits, not all counted",
        ),
        (notes.first_deploy_note(), "first deploy: no earlier version to compare with"),
        (notes.github_silent_note(what="CI status"), "CI status: no answer from GitHub in time"),
        (
            notes.github_failed_note(what="compare", why="GitHub answered 404: Not Found"),
            "compare: GitHub answered 404: Not Found",
        ),
        (
            notes.oldest_listed_note(listed=250),
            "GitHub listed only the oldest 250 commits: see the compare link for the newest",
        ),
    ],
)
def test_evidence_notes(said: str, expected: str) -> None:
    assert said == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (lineage.not_full_sha_why(), "not a full commit sha"),
        (lineage.not_on_this_machine_why(), "the repository is not on this machine"),
        (lineage.git_answered_else_why(), "git rev-list answered something else"),
        (lineage.github_not_configured_why(), "GitHub is not configured (GITHUB_TOKEN)"),
        (lineage.github_silent_why(), "no answer from GitHub in time"),
        (
            lineage.compare_failed_why(why="GitHub answered 502: Bad Gateway"),
            "GitHub compare: GitHub answered 502: Bad Gateway",
        ),
        (lineage.compare_said_why(status="weird"), "GitHub compare said 'weird'"),
    ],
)
def test_lineage_whys(said: str, expected: str) -> None:
    assert said == expected
