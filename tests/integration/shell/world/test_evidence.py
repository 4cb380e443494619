"""EvidenceGatherer against a real local git repository (make_repo, real ``git`` processes)
and against the fake GitHub REST API through the real client: counts, subjects, authors,
compare link, CI status; and every failure (a git error, GitHub 500s, no answer, no client)
giving an Evidence with a note, never an exception, within its time bound."""

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from starlette.applications import Starlette

from bot.core.config.config import Config, parse_config
from bot.core.thread.events import ApprovalRequested, PlanProposed
from bot.core.thread.origin import ApiOrigin
from bot.core.thread.plan import Evidence, Plan
from bot.core.thread.thread import Thread
from bot.shell.github.auth import TokenAuth
from bot.shell.github.client import GithubClient
from bot.shell.github.timings import ApiTimings
from bot.shell.store.keys import Keys
from bot.shell.store.threads import ThreadStore
from bot.shell.streams.channel_ports import channel_ports
from bot.shell.world import gitrepo
from bot.shell.world.evidence import EvidenceGatherer, github_repo
from bot.shell.world.tags import list_tags
from channels.api import api_routes
from channels.api.bodies import ThreadView
from tests.fakes.github_api import FakeGithub
from tests.support import GIT_ENV, make_repo

TAGS = [
    ("v1.0.0", "first cut"),
    ("v1.1.0", "add order search"),
    ("v1.2.0", "speed up order search"),
    ("v1.3.0", "fix login timeout"),
    ("v1.4.0", "retry payments once"),
    ("v1.5.0", "log slow queries"),
]
GITHUB_REPO = "https://github.com/acme/backend.git"
SHA = "4f2c9a1d0b7e6c5a4f2c9a1d0b7e6c5a4f2c9a1d"


def config(base: Path, repo: str) -> Config:
    return parse_config(
        f"""
[services.backend]
repo = "{repo}"
deploy = ["./d"]
environments = ["production"]
[environments.production]
approval = true
approvers = ["alice"]
[people]
alice = {{ slack = "U0ALICE" }}
""",
        base_dir=base,
    )


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working clone with six tags (one commit each, by "Test") and a bare copy."""
    base = tmp_path_factory.mktemp("evidence")
    make_repo(base / "work", TAGS)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(base / "work"), str(base / "bare.git")],
        env=GIT_ENV,
        check=True,
        capture_output=True,
    )
    return base


async def plan_for(repo: Path, version: str, live: str | None, kind: str = "deploy") -> Plan:
    tags = {t.name: t for t in await list_tags(str(repo))}
    return Plan(
        kind="rollback" if kind == "rollback" else "deploy",
        service="backend",
        environment="production",
        version=version,
        sha=tags[version].sha,
        previous_version=live,
        requester="alice",
    )


@pytest.mark.parametrize("where", ["work", "bare.git"])
async def test_local_range_between_live_and_planned(repos: Path, where: str) -> None:
    gatherer = EvidenceGatherer(config=config(repos, where), github=None, shown=2)
    plan = await plan_for(repos / where, "v1.5.0", "v1.2.0")
    evidence = await gatherer.gather(plan)
    assert (evidence.live_version, evidence.requester) == ("v1.2.0", "alice")
    assert evidence.commits_total == 3
    assert [(c.subject, c.author) for c in evidence.commits] == [
        ("log slow queries", "Test"),
        ("retry payments once", "Test"),
    ]
    assert evidence.commits[0].sha == plan.sha
    assert (evidence.compare_url, evidence.ci_state, evidence.note) == (None, None, None)


async def test_local_rollback_lists_the_commits_removed(repos: Path) -> None:
    gatherer = EvidenceGatherer(config=config(repos, "work"), github=None)
    plan = await plan_for(repos / "work", "v1.1.0", "v1.4.0", kind="rollback")
    evidence = await gatherer.gather(plan)
    assert evidence.commits_total == 3
    assert [c.subject for c in evidence.commits] == [
        "retry payments once",
        "fix login timeout",
        "speed up order search",
    ]


async def test_local_first_deploy_counts_up_to_a_cap(repos: Path) -> None:
    plan = await plan_for(repos / "work", "v1.5.0", None)
    whole = await EvidenceGatherer(config=config(repos, "work"), github=None).gather(plan)
    assert (whole.commits_total, len(whole.commits), whole.note) == (6, 5, None)
    capped = await EvidenceGatherer(
        config=config(repos, "work"), github=None, first_deploy_cap=4
    ).gather(plan)
    assert capped.commits_total is None
    assert capped.note == "first deploy: more than 4 commits, not all counted"
    assert [c.subject for c in capped.commits][:2] == ["log slow queries", "retry payments once"]


async def test_a_git_error_gives_a_note_not_an_exception(repos: Path) -> None:
    gatherer = EvidenceGatherer(config=config(repos, "work"), github=None)
    plan = await plan_for(repos / "work", "v1.5.0", "v1.2.0")
    gone = plan.model_copy(update={"previous_version": "v0.9.9"})  # the live tag was deleted
    evidence = await gatherer.gather(gone)
    assert (evidence.commits_total, evidence.commits, evidence.live_version) == (
        None,
        [],
        "v0.9.9",
    )
    assert evidence.note is not None
    assert evidence.note.startswith("no commit range: git")
    assert "v0.9.9" in evidence.note
    elsewhere = await EvidenceGatherer(
        config=config(repos, "https://git.example.com/acme/backend.git"), github=None
    ).gather(plan)
    assert elsewhere.note == "no commit range: the repository is not on GitHub or local"


async def test_a_failing_git_leaves_no_other_git_running(
    repos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git log fails at once while git rev-list is still counting: the evidence is returned
    only after the slow one has ended too (an abandoned git outlived its caller, and its
    pipes outlived the event loop: CI saw it). Git processes read a local repository only
    where libgit2 cannot open it (``gitrepo``): this one is made to look so."""
    plan = await plan_for(repos / "work", "v1.5.0", "v1.2.0")
    monkeypatch.setattr(gitrepo, "_open", lambda path: None)
    real_git = shutil.which("git")
    assert real_git is not None
    ended = tmp_path / "rev-list-ended"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *rev-list*) sleep 1; "{real_git}" "$@"; rc=$?; touch "{ended}"; exit $rc;;\n'
        '  *" log "*) echo "fatal: bad revision" >&2; exit 128;;\n'
        "esac\n"
        f'exec "{real_git}" "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    evidence = await EvidenceGatherer(config=config(repos, "work"), github=None).gather(plan)
    assert evidence.note == "no commit range: git log: bad revision"
    assert ended.exists(), "evidence returned while git rev-list was still running"


@pytest.fixture
async def fake() -> AsyncIterator[FakeGithub]:
    async with FakeGithub() as server:
        yield server


def client(base_url: str, token: str = "ghp-test-token", timeout_s: float = 5) -> GithubClient:
    return GithubClient(
        auth=TokenAuth(token=SecretStr(token)),
        base_url=base_url,
        timings=ApiTimings(backoff_s=0.01, timeout_s=timeout_s, max_wait_s=0.1),
    )


def github_plan(kind: str = "deploy", live: str | None = "v1.4.1") -> Plan:
    return Plan(
        kind="rollback" if kind == "rollback" else "deploy",
        service="backend",
        environment="production",
        version="v1.4.0" if kind == "rollback" else "v1.4.2",
        sha=SHA,
        previous_version=live,
        requester="alice",
    )


def commit(n: int, subject: str, name: str) -> dict[str, object]:
    return {
        "sha": f"{n:040x}",
        "commit": {"message": f"{subject}\n\nbody text", "author": {"name": name}},
        "author": {"login": name.lower()},
    }


async def test_github_range_compare_link_and_ci(tmp_path: Path, fake: FakeGithub) -> None:
    fake.compare_commits = [commit(n, f"change {n}", "Ann") for n in range(1, 9)]  # oldest first
    fake.commit_states = {SHA: "success"}
    async with client(fake.base_url) as gh:
        gatherer = EvidenceGatherer(
            config=config(tmp_path, "git@github.com:acme/backend.git"), github=gh
        )
        evidence = await gatherer.gather(github_plan())
    assert evidence.commits_total == 8
    assert [c.subject for c in evidence.commits] == [f"change {n}" for n in (8, 7, 6, 5, 4)]
    assert {c.author for c in evidence.commits} == {"Ann"}
    assert evidence.compare_url == f"https://github.test/acme/backend/compare/v1.4.1...{SHA}"
    assert (evidence.ci_state, evidence.ci_url) == (
        "success",
        f"https://github.com/acme/backend/commit/{SHA}",
    )
    assert evidence.note is None
    assert sorted(c.path for c in fake.calls) == [
        f"/repos/acme/backend/commits/{SHA}/status",
        f"/repos/acme/backend/compare/v1.4.1...{SHA}",
    ]


async def test_github_rollback_compares_planned_to_live(tmp_path: Path, fake: FakeGithub) -> None:
    fake.compare_commits = [commit(1, "fix login timeout", "Bo")]
    async with client(fake.base_url) as gh:
        gatherer = EvidenceGatherer(
            config=config(tmp_path, "https://github.com/acme/backend"), github=gh
        )
        evidence = await gatherer.gather(github_plan("rollback"))
    assert [c.subject for c in evidence.commits] == ["fix login timeout"]
    assert evidence.ci_state == "unknown"  # no statuses at all: GitHub says "pending"
    assert fake.called(r"/compare/")[0].path == f"/repos/acme/backend/compare/{SHA}...v1.4.1"


async def test_github_first_deploy_shows_ci_and_says_why_no_range(
    tmp_path: Path, fake: FakeGithub
) -> None:
    fake.commit_states = {SHA: "failure"}
    async with client(fake.base_url) as gh:
        gatherer = EvidenceGatherer(config=config(tmp_path, GITHUB_REPO), github=gh)
        evidence = await gatherer.gather(github_plan(live=None))
    assert (evidence.commits_total, evidence.ci_state) == (None, "failure")
    assert evidence.note == "first deploy: no earlier version to compare with"
    assert not fake.called(r"/compare/")


async def test_github_500_gives_a_note_and_keeps_what_is_known(
    tmp_path: Path, fake: FakeGithub
) -> None:
    fake.fail("compare", "500", times=10)
    fake.commit_states = {SHA: "success"}
    async with client(fake.base_url) as gh:
        gatherer = EvidenceGatherer(config=config(tmp_path, GITHUB_REPO), github=gh)
        evidence = await gatherer.gather(github_plan())
    assert evidence.commits_total is None
    assert evidence.ci_state == "success"  # the status call still answered
    assert evidence.note == "compare: GitHub answered 500: Server Error"
    assert len(fake.called(r"/compare/")) == 4  # the client's bounded retries, then a note


async def test_no_github_client_says_so(tmp_path: Path) -> None:
    gatherer = EvidenceGatherer(
        config=config(tmp_path, "https://github.com/acme/backend.git"), github=None
    )
    evidence = await gatherer.gather(github_plan())
    assert evidence.note == "GitHub is not configured (GITHUB_TOKEN): no commits or CI"
    assert (evidence.live_version, evidence.requester) == ("v1.4.1", "alice")


async def test_a_github_that_never_answers_is_cut_off_in_time(tmp_path: Path) -> None:
    """A server that accepts and never answers: the gatherer gives up within its bound."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with client(f"http://127.0.0.1:{port}", timeout_s=30) as gh:
            gatherer = EvidenceGatherer(
                config=config(tmp_path, "https://github.com/acme/backend.git"),
                github=gh,
                timeout_s=0.5,
            )
            started = time.monotonic()
            evidence = await gatherer.gather(github_plan())
            took_s = time.monotonic() - started
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert took_s < 1.5
    assert evidence.note == (
        "compare: no answer from GitHub in time; CI status: no answer from GitHub in time"
    )
    assert (evidence.live_version, evidence.commits_total) == ("v1.4.1", None)


@pytest.mark.parametrize(
    ("location", "api_url", "expected"),
    [
        ("https://github.com/acme/backend.git", None, ("acme", "backend", "https://github.com")),
        ("https://github.com/acme/backend", None, ("acme", "backend", "https://github.com")),
        ("git@github.com:acme/backend.git", None, ("acme", "backend", "https://github.com")),
        ("ssh://git@github.com/acme/back.end.git", None, ("acme", "back.end", "https://github.com")),
        ("https://x:tok@github.com/acme/backend.git", None, ("acme", "backend", "https://github.com")),
        ("https://ghe.acme.io/acme/backend.git", "https://ghe.acme.io/api/v3", ("acme", "backend", "https://ghe.acme.io")),
        ("https://ghe.acme.io/acme/backend.git", None, None),
        ("https://gitlab.com/acme/backend.git", None, None),
        ("https://github.com/acme/backend/tree/main", None, None),
        ("https://github.com.evil.io/acme/backend.git", None, None),
        ("file:///srv/github.com/acme/backend", None, None),
        ("/srv/repos/backend", None, None),
    ],
)  # fmt: skip
def test_which_repositories_are_on_github(
    location: str, api_url: str | None, expected: tuple[str, str, str] | None
) -> None:
    repo = github_repo(location, api_url=api_url)
    assert (None if repo is None else (repo.owner, repo.name, repo.web_url)) == expected


TOKEN_IN_SUBJECT = "ghp_" + "Q" * 36


async def test_outside_text_is_redacted_when_gathered(tmp_path: Path) -> None:
    """A token someone put in a commit message never reaches the thread (nor the API, the
    prompt or a card); a subject shaped like a Slack mention stays plain data."""
    make_repo(
        tmp_path / "repo",
        [("v1.0.0", "start"), ("v1.1.0", f"rotate {TOKEN_IN_SUBJECT}"), ("v1.2.0", "<!channel>")],
    )
    plan = await plan_for(tmp_path / "repo", "v1.2.0", "v1.0.0")
    evidence = await EvidenceGatherer(config=config(tmp_path, "repo"), github=None).gather(plan)
    assert [c.subject for c in evidence.commits] == ["<!channel>", "rotate [REDACTED]"]
    assert TOKEN_IN_SUBJECT not in evidence.model_dump_json()


async def test_api_get_shows_the_evidence(repos: Path, redis: Redis, key_prefix: str) -> None:
    """GET /v1/threads/{id} through the real API routes and the real Redis thread store:
    ``approval.evidence`` is the Evidence recorded with the plan the request is for."""
    cfg = config(repos, "work")
    plan = await plan_for(repos / "work", "v1.5.0", "v1.2.0")
    evidence = await EvidenceGatherer(config=cfg, github=None).gather(plan)
    other = plan.model_copy(update={"version": "v1.4.0"})
    at = datetime.now(UTC)
    thread = Thread(
        id="th-evidence-1",
        origin=ApiOrigin(),
        created_at=at,
        events=[
            PlanProposed(id="e0", at=at, plan=other, evidence=Evidence(
                live_version="v1.2.0", requester="alice", commits_total=99)),
            PlanProposed(id="e1", at=at, plan=plan, evidence=evidence),
            ApprovalRequested(
                id="e2", at=at, plan_hash=plan.plan_hash, approvers=["alice"], min_approvals=1,
                expires_at=at + timedelta(hours=1),
            ),
        ],
    )  # fmt: skip
    keys = Keys(key_prefix)
    store = ThreadStore(redis=redis, keys=keys)
    await store.save(thread)
    routes = api_routes(
        config=cfg,
        ports=channel_ports(redis=redis, keys=keys, store=store),
        api_token="api-t0ken",
        webhook_secret=None,
        clock=lambda: datetime.now(UTC),
        new_id=lambda: "x1",
    )
    transport = httpx.ASGITransport(app=Starlette(routes=routes))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers={"Authorization": "Bearer api-t0ken"}
    ) as web:
        got = await web.get(f"/v1/threads/{thread.id}")
    assert got.status_code == 200, got.text
    view = ThreadView.model_validate(got.json())
    assert view.approval is not None
    assert view.approval.evidence == evidence
    assert got.json()["approval"]["evidence"]["commits_total"] == 3
    assert [c["subject"] for c in got.json()["approval"]["evidence"]["commits"]][:1] == [
        "log slow queries"
    ]
