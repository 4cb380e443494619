"""list_tags against real git repositories made in a temp folder."""

import os
import subprocess
from pathlib import Path

import pytest

from bot.core.errors import ToolFailed
from bot.shell.world.tags import list_tags, version_key

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args], env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def commit(repo: Path, subject: str) -> str:
    git(repo, "commit", "--quiet", "--allow-empty", "-m", subject)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "backend"
    path.mkdir()
    git(path, "init", "--quiet", "--initial-branch=main")
    return path


async def test_annotated_and_lightweight_tags_resolve_to_commits(repo: Path) -> None:
    first = commit(repo, "first commit")
    git(repo, "tag", "v1.0.0")  # lightweight
    second = commit(repo, "fix login timeout")
    git(repo, "tag", "-a", "v1.1.0", "-m", "release 1.1.0")  # annotated: its own object
    tag_object = git(repo, "rev-parse", "v1.1.0")
    assert tag_object != second

    tags = await list_tags(str(repo))

    assert [(t.name, t.sha, t.subject) for t in tags] == [
        ("v1.1.0", second, "fix login timeout"),
        ("v1.0.0", first, "first commit"),
    ]


async def test_semver_order_newest_first_and_limit(repo: Path) -> None:
    commit(repo, "c")
    names = ["v1.9.0", "v1.10.0", "v1.2.3", "v2.0.0-rc.1", "v2.0.0-rc.2", "v2.0.0", "nightly"]
    for name in names:
        git(repo, "tag", name)
    git(repo, "tag", "release-2024-05-01")
    git(repo, "tag", "release-2025-01-01")

    tags = await list_tags(str(repo))
    assert [t.name for t in tags] == [
        "v2.0.0",
        "v2.0.0-rc.2",
        "v2.0.0-rc.1",
        "v1.10.0",
        "v1.9.0",
        "v1.2.3",
        # not versions: after all versions, reverse name order
        "release-2025-01-01",
        "release-2024-05-01",
        "nightly",
    ]
    assert all(t.subject == "c" for t in tags)

    top = await list_tags(str(repo), limit=2)
    assert [t.name for t in top] == ["v2.0.0", "v2.0.0-rc.2"]


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("v1.9.0", "v1.10.0"),
        ("1.2.3", "v1.2.4"),
        ("v1.0.0-alpha", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0"),
        ("v1.2", "v1.2.1"),
        ("zzz-not-a-version", "v0.0.1"),
    ],
)
def test_version_key(older: str, newer: str) -> None:
    assert version_key(older) < version_key(newer)


async def test_empty_repo_has_no_tags(repo: Path) -> None:
    assert await list_tags(str(repo)) == []


async def test_bare_repo_gets_subjects(repo: Path, tmp_path: Path) -> None:
    sha = commit(repo, "ship it")
    git(repo, "tag", "-a", "v0.1.0", "-m", "first")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(repo), str(bare))
    (tag,) = await list_tags(str(bare))
    assert (tag.name, tag.sha, tag.subject) == ("v0.1.0", sha, "ship it")


async def test_remote_url_has_no_subject(repo: Path) -> None:
    sha = commit(repo, "over file://")
    git(repo, "tag", "v3.0.0")
    (tag,) = await list_tags(f"file://{repo}")
    assert (tag.name, tag.sha, tag.subject) == ("v3.0.0", sha, None)


async def test_missing_repo_raises_tool_failed(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ToolFailed, match="does not appear to be a git repository") as info:
        await list_tags(str(missing))
    assert str(missing) in str(info.value)
    assert "\n" not in str(info.value)


async def test_failure_message_hides_url_credentials() -> None:
    url = "http://deploy:s3cr3t-pw@127.0.0.1:9/acme/backend.git"  # port 9: nothing listens
    with pytest.raises(ToolFailed) as info:
        await list_tags(url, timeout_s=10)
    message = str(info.value)
    assert "s3cr3t-pw" not in message
    assert "deploy:" not in message
    assert "127.0.0.1" in message


async def test_option_shaped_repo_is_not_an_option(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(ToolFailed):
        await list_tags(f"--upload-pack=touch {marker}")
    assert not marker.exists()


async def test_timeout_raises_tool_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A git that never answers (like a server that accepts and then hangs).
    fake_git = tmp_path / "bin" / "git"
    fake_git.parent.mkdir()
    fake_git.write_text("#!/bin/sh\nexec sleep 30\n")
    fake_git.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_git.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ToolFailed, match=r"timed out after 0\.3 s"):
        await list_tags(str(tmp_path), timeout_s=0.3)


async def test_git_missing_raises_tool_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolFailed, match="cannot run git"):
        await list_tags(str(tmp_path))
