"""How a planned commit stands to the live one (``Lookups.lineage``), read from a real git
repository (a linear history and a fork) and from a fake GitHub that answers "behind" and
"diverged" and fails like the real one: never an exception, ``unknown`` with the reason."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from bot.core.config.config import Config, parse_config
from bot.core.thread.plan import Lineage
from bot.shell.github.auth import TokenAuth
from bot.shell.github.client import GithubClient
from bot.shell.github.timings import ApiTimings
from bot.shell.world.lookups import Lookups
from tests.context import context_over
from tests.fakes.github_api import FakeGithub
from tests.integration.shell.world.test_commit_identity import commit, git
from tests.support import make_repo

GITHUB_REPO = "https://github.com/acme/backend.git"
PLANNED, LIVE = "1" * 40, "2" * 40


def config(base: Path, repo: str) -> Config:
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


def lookups(redis: Redis, prefix: str, cfg: Config, github: GithubClient | None) -> Lookups:
    return Lookups(context=context_over(redis, prefix, cfg), redis=redis, github=github)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGithub]:
    async with FakeGithub() as server:
        yield server


async def test_git_ancestry_for_any_tag_scheme(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, [("build-1", "a"), ("build-2", "b"), ("build-3", "c")])
    git(repo, "checkout", "-q", "-b", "fork", "build-1")
    fork = commit(repo, "a fix on a fork")
    sha = {n: git(repo, "rev-parse", f"{n}^{{}}") for n in ("build-1", "build-2", "build-3")}
    found = lookups(redis, key_prefix, config(tmp_path, "repo"), None)

    async def of(planned: str, live: str) -> Lineage:
        return await found.lineage("backend", planned=planned, live=live)

    assert await of(sha["build-3"], sha["build-1"]) == Lineage(relation="ahead")
    assert await of(sha["build-1"], sha["build-3"]) == Lineage(relation="behind", missing=2)
    assert await of(fork, sha["build-3"]) == Lineage(relation="diverged", missing=2)
    assert await of(sha["build-2"], sha["build-2"]) == Lineage(relation="same")
    unknown = await of(sha["build-3"], LIVE)  # a live commit this repository does not have
    assert unknown.relation == "unknown"
    assert unknown.why is not None
    assert unknown.why.startswith("git rev-list: ")
    assert (await of("--output=/tmp/x", sha["build-1"])).why == "not a full commit sha"
    elsewhere = lookups(redis, key_prefix, config(tmp_path, "https://git.example.com/b.git"), None)
    assert await elsewhere.lineage("backend", planned=PLANNED, live=LIVE) == Lineage(
        relation="unknown", why="the repository is not on this machine"
    )


async def test_github_compare_says_ahead_behind_or_diverged(
    redis: Redis, key_prefix: str, tmp_path: Path, fake: FakeGithub
) -> None:
    gh = GithubClient(auth=TokenAuth(token=SecretStr("ghp-test-token")), base_url=fake.base_url,
                      timings=ApiTimings(backoff_s=0.01, timeout_s=5, max_wait_s=0.1))  # fmt: skip
    async with gh:
        found = lookups(redis, key_prefix, config(tmp_path, GITHUB_REPO), gh)

        async def of() -> Lineage:
            return await found.lineage("backend", planned=PLANNED, live=LIVE)

        fake.compare_commits = [{"sha": PLANNED, "commit": {"message": "x"}}]
        assert await of() == Lineage(relation="ahead")
        assert (
            fake.called(r"/compare/")[-1].path == f"/repos/acme/backend/compare/{LIVE}...{PLANNED}"
        )
        fake.compare_status = ("behind", 3)
        assert await of() == Lineage(relation="behind", missing=3)
        fake.compare_status = ("diverged", 2)
        assert await of() == Lineage(relation="diverged", missing=2)
        fake.fail("compare", "500", times=10)
        failed = await of()
        assert failed.relation == "unknown"
        assert failed.why is not None
        assert failed.why.startswith("GitHub compare: ")
    nobody = lookups(redis, key_prefix, config(tmp_path, GITHUB_REPO), None)
    assert await nobody.lineage("backend", planned=PLANNED, live=LIVE) == Lineage(
        relation="unknown", why="GitHub is not configured (GITHUB_TOKEN)"
    )
