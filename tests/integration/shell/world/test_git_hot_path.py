"""No ``git`` process on the hot path (issue 18.4): for a local repository, the live
re-check's ``fresh_tags``, ``lineage`` and the plan's evidence are read in-process, and the
re-check of the same plan finds its range and lineage already known. Where libgit2 cannot
open the repository (a SHA-256 repository, another user's), git processes answer as before,
and the log says why once."""

import asyncio
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.core.config.config import Config, parse_config
from bot.core.errors import ToolFailed
from bot.core.thread.plan import Lineage, Plan
from bot.shell.world import gitrepo
from bot.shell.world.evidence import EvidenceGatherer
from bot.shell.world.gitcache import RANGES
from bot.shell.world.lookups import Lookups
from bot.shell.world.tags import lineage, list_tags
from tests.context import context_over
from tests.integration.shell.world.test_gitrepo import commit, git


def config(base: Path, repo: str = "repo") -> Config:
    return parse_config(
        f"""
[services.backend]
repo = "{repo}"
deploy = ["./d"]
environments = ["production"]
[environments.production]
""",
        base_dir=base,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    RANGES.clear()
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    yield path
    RANGES.clear()


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Any, ...]]:
    """Every process started meanwhile; and no ``git`` on PATH, so a hidden one fails."""
    started: list[tuple[Any, ...]] = []
    real = asyncio.create_subprocess_exec

    async def counting(*args: Any, **kwargs: Any) -> asyncio.subprocess.Process:
        started.append(args)
        return await real(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_subprocess_exec", counting)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return started


def plan(version: str, sha: str, live: str, live_sha: str | None) -> Plan:
    return Plan(
        kind="deploy",
        service="backend",
        environment="production",
        version=version,
        sha=sha,
        previous_version=live,
        previous_sha=live_sha,
        requester="carol",
    )


async def test_the_live_re_check_runs_no_git_process(
    repo: Path, tmp_path: Path, redis: Redis, key_prefix: str, spawned: list[tuple[Any, ...]]
) -> None:
    live = commit(repo, "live")
    git(repo, "tag", "v1.0.0")
    planned = commit(repo, "planned")
    git(repo, "tag", "-a", "v1.1.0", "-m", "v1.1.0")
    cfg = config(tmp_path)
    lookups = Lookups(context=context_over(redis, key_prefix, cfg), redis=redis)
    gatherer = EvidenceGatherer(config=cfg, github=None)
    the_plan = plan("v1.1.0", planned, "v1.0.0", live)

    tags = await lookups.tags("backend")  # launch: read, then cached in Redis for a while
    before = await gatherer.gather(the_plan)
    ahead = await lookups.lineage("backend", planned=planned, live=live)
    assert shutil.which("git") is None  # the bot could not start git if it tried
    git_moves_tag = commit(repo, "after the approval")  # the test's git: subprocess.run
    git(repo, "tag", "-f", "-a", "v1.1.0", "-m", "moved", git_moves_tag)
    hits = RANGES.hits
    fresh = await lookups.fresh_tags("backend")  # the re-check: the repository, not the cache
    again = await gatherer.gather(the_plan)
    ahead_again = await lookups.lineage("backend", planned=planned, live=live)

    assert spawned == []
    assert [(t.name, t.sha) for t in tags] == [("v1.1.0", planned), ("v1.0.0", live)]
    assert [(t.name, t.sha) for t in fresh] == [("v1.1.0", git_moves_tag), ("v1.0.0", live)]
    assert (before.commits_total, [c.subject for c in before.commits]) == (1, ["planned"])
    assert again == before
    assert ahead == ahead_again == Lineage(relation="ahead")
    assert RANGES.hits == hits + 2  # the evidence's range and the lineage: known already


async def test_a_repository_libgit2_cannot_open_is_read_by_git_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A SHA-256 repository: git reads it, this libgit2 does not."""
    repo = tmp_path / "sha256"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", "--object-format=sha256")
    first = commit(repo, "first")
    git(repo, "tag", "v1.0.0")
    second = commit(repo, "second")
    git(repo, "tag", "-a", "v1.1.0", "-m", "v1.1.0")
    caplog.set_level(logging.WARNING, logger=gitrepo.__name__)

    tags = await list_tags(str(repo))
    assert [(t.name, t.sha, t.subject) for t in tags] == [
        ("v1.1.0", second, "second"),
        ("v1.0.0", first, "first"),
    ]
    assert await list_tags(str(repo)) == tags
    assert await lineage(str(repo), planned=second, live=first) == Lineage(relation="ahead")
    gatherer = EvidenceGatherer(config=config(tmp_path, "sha256"), github=None)
    evidence = await gatherer.gather(plan("v1.1.0", second, "v1.0.0", first))
    assert (evidence.commits_total, evidence.note) == (1, None)
    said = [r.getMessage() for r in caplog.records if r.name == gitrepo.__name__]
    assert len(said) == 1, said
    assert "read by git processes" in said[0]
    assert "sha256" in said[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a repository to another user needs root")
async def test_another_users_repository_is_refused_as_git_refuses_it(repo: Path) -> None:
    """libgit2 checks the owner like git (``safe.directory``): the in-process reader does not
    read what git would not, and the answer is git's own."""
    commit(repo, "theirs")
    git(repo, "tag", "v1.0.0")
    subprocess.run(["chown", "-R", "nobody", str(repo)], check=True)
    with pytest.raises(ToolFailed, match="dubious ownership"):
        await list_tags(str(repo))
