"""``deploybot chat`` as a user runs it (a subprocess fed lines): a rolled-back commit is
refused under another tag (issue 15.3), and only someone the config names may release it,
also where deploys need no approval (issue 15.5). Counted in the deploy script's log."""

import subprocess
from pathlib import Path

from tests.e2e.test_chat import chat
from tests.support import GIT_ENV, calls, write_setup

LINES = [
    "deploy backend v1.4.1 to staging",
    "deploy backend v1.4.2 to staging",
    "rollback backend in staging",  # quarantines v1.4.2's commit in staging
    "deploy backend 1.4.2 to staging",  # the same commit by another tag
    "release backend 1.4.2 in staging it was the cache",
    "deploy backend 1.4.2 to staging",
]


def setup(tmp_path: Path, staging: str = "") -> Path:
    config = write_setup(tmp_path)
    if staging:
        text = config.read_text().replace(
            "[environments.staging]\napproval = false\n",
            f"[environments.staging]\napproval = false\n{staging}\n",
        )
        config.write_text(text)
    subprocess.run(
        ["git", "tag", "1.4.2", "v1.4.2^{}"],
        cwd=tmp_path / "repos" / "backend",
        env=GIT_ENV,
        check=True,
        capture_output=True,
    )
    return config


def said(out: str) -> list[str]:
    return [line.removeprefix("bot> ") for line in out.splitlines() if line.startswith("bot> ")]


def test_nobody_named_means_nobody_releases_and_no_alias_deploys(tmp_path: Path) -> None:
    config = setup(tmp_path)
    out = chat(LINES, args=["--config", str(config), "--user", "carol"], home=tmp_path)
    assert "Rolling back backend v1.4.1 to staging ... ok in" in out  # said, not swallowed
    refusals = [s for s in said(out) if s.startswith("backend 1.4.2 is quarantined in staging")]
    assert len(refusals) == 2, out
    assert "it is commit " in refusals[0]
    assert "quarantined as v1.4.2" in refusals[0]
    assert (
        "Nobody may release a quarantined version in staging: the config names no release_by "
        "and no approvers for it. To allow someone, add release_by = "
        '["<name from [people]>"] to [environments.staging].'
    ) in out
    assert [c.split()[:3] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.1"],
        ["deploy", "backend", "v1.4.2"],
        ["rollback", "backend", "v1.4.1"],
    ]


def test_someone_named_in_release_by_releases_the_commit_by_any_name(tmp_path: Path) -> None:
    config = setup(tmp_path, staging='release_by = ["alice"]')
    lines = [*LINES[:5], "/as alice", *LINES[4:]]
    out = chat(lines, args=["--config", str(config), "--user", "carol"], home=tmp_path)
    assert (
        "Only alice may release a quarantined version in staging (release_by of staging); "
        "carol may not."
    ) in out
    assert "backend 1.4.2 may be deployed to staging again (released by alice: it was the " in out
    assert "it was quarantined as v1.4.2 (" in out
    assert [c.split()[:3] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.1"],
        ["deploy", "backend", "v1.4.2"],
        ["rollback", "backend", "v1.4.1"],
        ["deploy", "backend", "1.4.2"],  # only after alice released it
    ]
