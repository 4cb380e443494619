"""The GitHub Actions deploy target through the real client (gidgethub on aiohttp) against
the local fake of the REST API (tests/fakes/github_api.py): dispatch counts, the run found
by key among others, progress, results, timeouts, rate limits, 5xx, crash recovery, the
Deployment record and GitHub App tokens."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from bot.core.config.config import Config, parse_config
from bot.core.thread.deploy_result import DeployResult, OutcomeUnknown
from bot.core.thread.plan import Plan
from bot.shell.github.auth import AppAuth, TokenAuth
from bot.shell.github.client import GithubClient
from bot.shell.github.errors import GithubRefused, GithubUnavailable
from bot.shell.github.run_rules import RunProgress
from bot.shell.github.timings import ApiTimings, WorkflowTimings
from bot.shell.github.workflow_deployer import WorkflowDeployer
from tests.fakes.github_api import FakeGithub, FakeRun, Script

KEY = "th-7f3a:0123456789abcdef"
SHA = "4f2c9a1d0b7e6c5a4f2c9a1d0b7e6c5a4f2c9a1d"
PLAN = Plan(
    kind="deploy",
    service="backend",
    environment="production",
    version="v1.4.2",
    sha=SHA,
    previous_version="v1.4.1",
    requester="alice",
)


def config(tmp_path: Path, *, timeout_s: float = 10) -> Config:
    return parse_config(
        f"""
[services.backend]
repo = "repos/backend"
timeout_s = {timeout_s}
environments = ["production"]
[services.backend.deploy]
github_workflow = "acme/backend/.github/workflows/deploy.yml"
ref = "main"
inputs = {{ version = "{{version}}", environment = "{{environment}}" }}

[environments.production]
approval = false
""",
        base_dir=tmp_path,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeGithub]:
    async with FakeGithub() as server:
        yield server


def client(fake: FakeGithub, **options: float) -> GithubClient:
    return GithubClient(
        auth=TokenAuth(token=SecretStr(fake.token)),
        base_url=fake.base_url,
        timings=ApiTimings(
            backoff_s=options.get("backoff_s", 0.05),
            timeout_s=options.get("timeout_s", 5),
            max_wait_s=options.get("max_wait_s", 5),
        ),
    )


def deployer(
    tmp_path: Path,
    gh: GithubClient,
    *,
    timeout_s: float = 10,
    find_s: float = 3,
    cancel_wait_s: float = 5,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> WorkflowDeployer:
    return WorkflowDeployer(
        config=config(tmp_path, timeout_s=timeout_s),
        client=gh,
        secrets=["ghp-test-token"],
        timings=WorkflowTimings(
            poll_s=0.05, find_s=find_s, cancel_wait_s=cancel_wait_s, dispatch_s=2
        ),
        now=now,
    )


def ours(fake: FakeGithub) -> list[int]:
    return [r.id for r in fake.runs if f"[{KEY}]" in r.display_title]


async def test_dispatched_once_and_the_right_run_followed_among_newer_ones(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.add_run("deploy v1.4.0 to production [th-0000:aaaaaaaaaaaaaaaa]", age_s=30)
    fake.script(Script(queued_s=0.1, running_s=0.6))
    seen: list[RunProgress] = []
    lines: list[str] = []

    async def on_progress(progress: RunProgress) -> None:
        seen.append(progress)

    async def on_output(line: str) -> None:
        lines.append(line)

    async def others_start_runs() -> None:
        # Newer runs started by other people while ours is queued; one shows a longer key
        # that begins with ours, so only the exact key may match.
        await asyncio.sleep(0.02)
        fake.add_run("deploy v9.9.9 to production [th-9999:ffffffffffffffff]", age_s=-5)
        fake.add_run(f"deploy v1.4.2 to production [{KEY}0]", age_s=-10)

    async with client(fake) as gh:
        others = asyncio.create_task(others_start_runs())
        result = await deployer(tmp_path, gh).run(
            plan=PLAN,
            idempotency_key=KEY,
            fencing_token=7,
            on_output=on_output,
            on_progress=on_progress,
        )
        await others

    assert len(fake.dispatches()) == 1
    dispatch = fake.dispatches()[0].json
    assert dispatch == {
        "ref": "main",
        "inputs": {"version": "v1.4.2", "environment": "production", "deploybot_key": KEY},
    }
    (run_id,) = ours(fake)
    assert result.result == "succeeded"
    assert result.exit_code == 0
    assert f"/actions/runs/{run_id}" in result.output_tail
    assert "conclusion: success" in result.output_tail
    # Only our run was ever read; the newer runs of other people were not followed.
    followed = {c.path.rsplit("/runs/", 1)[1].split("/")[0] for c in fake.called(r"/runs/\d+")}
    assert followed == {str(run_id)}
    # Progress: queued, then jobs and steps, then completed; at most one report per poll.
    assert {p.run_id for p in seen} == {run_id}
    assert seen[0].status in ("queued", "in_progress")
    assert seen[-1].status == "completed"
    assert any(p.job == "deploy" and p.step for p in seen), seen
    polls = len([c for c in fake.called(r"/actions/runs/\d+$") if c.method == "GET"])
    assert 3 <= len(seen) <= polls
    assert len(lines) == len(seen)
    assert f"/actions/runs/{run_id}" in lines[0]


async def test_deployment_and_its_statuses_are_recorded(fake: FakeGithub, tmp_path: Path) -> None:
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=3)
    assert result.result == "succeeded"
    (deployment,) = fake.deployments
    assert deployment["request"] == {
        "ref": SHA,
        "environment": "production",
        "description": "deploybot: deploy backend v1.4.2",
        "payload": {"deploybot_key": KEY, "fencing_token": 3},
        "auto_merge": False,
        "required_contexts": [],
        "task": "deploy",
    }
    (run_id,) = ours(fake)
    states = [(s["state"], s.get("log_url")) for s in fake.statuses[deployment["id"]]]
    url = f"https://github.test/acme/backend/actions/runs/{run_id}"
    assert states == [("in_progress", url), ("success", url)]


async def test_a_deployment_that_cannot_be_recorded_does_not_stop_the_deploy(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.fail("deployments", "500")  # creating a Deployment is not retried on a 5xx
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert result.result == "succeeded"
    assert len(fake.dispatches()) == 1
    assert len(fake.called(r"/deployments$")) == 1
    assert fake.statuses == {}


async def test_a_failed_run_is_failed_with_the_failed_job_and_step(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.script(Script(conclusion="failure", running_s=0.3))
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert result.result == "failed"
    assert result.exit_code == 1
    assert "conclusion: failure" in result.output_tail
    assert "failed: deploy / Deploy" in result.output_tail
    assert "ghp-test-token" not in result.output_tail
    (deployment,) = fake.deployments
    assert [s["state"] for s in fake.statuses[deployment["id"]]] == ["in_progress", "failure"]


async def test_a_run_past_the_timeout_is_over_only_when_github_reports_it_completed(
    fake: FakeGithub, tmp_path: Path
) -> None:
    """GitHub's cancel is asynchronous: the run goes on 1.5 s after it. The deploy ends
    (timed out) only once GitHub reports the run completed, never at the cancel."""
    fake.script(Script(running_s=60, cancel_s=1.5))
    started = time.monotonic()
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, timeout_s=0.8).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    took_s = time.monotonic() - started
    assert isinstance(result, DeployResult)
    assert result.result == "timed_out"
    assert result.exit_code is None
    (run_id,) = ours(fake)
    run = next(r for r in fake.runs if r.id == run_id)
    cancels = fake.called(r"/cancel$")
    assert [c.path for c in cancels] == [f"/repos/acme/backend/actions/runs/{run_id}/cancel"]
    assert cancels[0].status == 202
    # Over when GitHub said so: the cancel took 1.5 s to take hold, and the deploy waited.
    assert run.status() == ("completed", "cancelled")
    assert run.cancelled_at_s is not None
    assert run.ends_s() == pytest.approx(run.cancelled_at_s + 1.5)
    assert time.monotonic() >= run.ends_s()
    assert took_s >= 0.8 + 1.5  # held until GitHub said completed, not freed at the cancel
    assert "asked GitHub to cancel the run; GitHub reports it completed" in result.output_tail
    assert "conclusion: cancelled" in result.output_tail
    (deployment,) = fake.deployments
    assert [s["state"] for s in fake.statuses[deployment["id"]]] == ["in_progress", "error"]


async def test_a_cancel_github_never_confirms_is_an_unknown_outcome_after_the_bound(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.script(Script(running_s=60, cancel_s=float("inf")))
    started = time.monotonic()
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, timeout_s=0.5, cancel_wait_s=1).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    assert time.monotonic() - started >= 1.5  # the timeout, then the whole cancel bound
    assert isinstance(result, OutcomeUnknown)  # never "failed" or "timed out": it still runs
    (run_id,) = ours(fake)
    assert next(r for r in fake.runs if r.id == run_id).status()[0] == "in_progress"
    assert result.link == f"https://github.test/acme/backend/actions/runs/{run_id}"
    assert "has not reported the run completed 1 s later" in result.reason
    (deployment,) = fake.deployments  # GitHub is not told an end nobody knows
    assert [s["state"] for s in fake.statuses[deployment["id"]]] == ["in_progress"]


async def test_a_run_that_succeeds_before_the_cancel_takes_hold_succeeded(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.script(Script(queued_s=0, running_s=1.2, cancel_s=5))
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, timeout_s=0.6).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    assert isinstance(result, DeployResult)
    assert (result.result, result.exit_code) == ("succeeded", 0)
    assert "before the cancel took hold" in result.output_tail
    (deployment,) = fake.deployments
    assert [s["state"] for s in fake.statuses[deployment["id"]]] == ["in_progress", "success"]


@pytest.mark.parametrize("fault", ["403", "429"])
async def test_a_rate_limited_dispatch_is_sent_again_only_after_the_limit(
    fake: FakeGithub, tmp_path: Path, fault: str
) -> None:
    fake.fail("dispatch", "403" if fault == "403" else "429", wait_s=1)
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert result.result == "succeeded"
    first, second = fake.dispatches()  # one refused, one accepted: never a third
    assert (first.status, second.status) == (int(fault), 204)
    assert second.at_s - first.at_s >= 0.95  # waited what GitHub asked
    # Before dispatching again it looked for a run with the key (and found none).
    looked = [c for c in fake.called(r"/workflows/deploy.yml/runs$") if first.at_s < c.at_s]
    assert looked
    assert looked[0].at_s < second.at_s
    assert len(ours(fake)) == 1


async def test_a_5xx_after_the_run_was_created_is_not_dispatched_again(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.fail("dispatch", "500-after-create")
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert [c.status for c in fake.dispatches()] == [500]
    assert len(ours(fake)) == 1
    assert result.result == "succeeded"


async def test_a_5xx_dispatch_is_never_sent_again_and_no_run_is_an_unknown_outcome(
    fake: FakeGithub, tmp_path: Path
) -> None:
    """A 5xx may hide a run GitHub started (and lists late): not dispatched again, looked
    for through the find window, then unknown, never failed."""
    fake.fail("dispatch", "500")
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, find_s=1).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    assert [c.status for c in fake.dispatches()] == [500]
    assert isinstance(result, OutcomeUnknown)
    assert "the dispatch's answer was lost" in result.reason
    assert "GitHub may still start it" in result.reason
    looked = fake.called(r"/workflows/deploy.yml/runs$")
    assert looked[-1].at_s - fake.dispatches()[0].at_s >= 1  # the whole find window
    (deployment,) = fake.deployments
    assert deployment["id"] not in fake.statuses  # no end told to GitHub: nobody knows it


async def test_a_run_listed_late_and_among_others_is_found_and_followed(
    fake: FakeGithub, tmp_path: Path
) -> None:
    """GitHub lists the run 2-4 s after the dispatch, below 150 newer runs by other people
    (page 2 of the list)."""
    fake.list_delay_s = (2, 4)
    fake.script(Script(running_s=0.3))

    def crowd(run: FakeRun) -> None:
        for n in range(150):
            fake.add_run(f"deploy v9.{n} to production [th-{n:04}:ffffffffffffffff]", age_s=-5)

    fake.on_dispatch = crowd
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, find_s=6).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    assert isinstance(result, DeployResult)
    assert (result.result, result.exit_code) == ("succeeded", 0)
    (run_id,) = ours(fake)
    run = next(r for r in fake.runs if r.id == run_id)
    listed_after_s = run.listed_s - run.started_s
    assert 2 <= listed_after_s <= 4
    assert f"/actions/runs/{run_id}" in result.output_tail
    assert len(fake.dispatches()) == 1
    pages = {c.query.get("page") for c in fake.called(r"/workflows/deploy.yml/runs$")}
    assert "2" in pages  # found on the second page, past the newer runs of others


async def test_a_dispatch_whose_run_never_shows_is_unknown_not_failed(
    fake: FakeGithub, tmp_path: Path
) -> None:
    """GitHub accepted it (204), but no run shows the key within the window (here: the
    run-name lacks the key): unknown, never dispatched again, never "failed"."""
    fake.run_name = "deploy {version} to {environment}"
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, find_s=1).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    assert isinstance(result, OutcomeUnknown)
    assert "GitHub accepted the dispatch" in result.reason
    assert "inputs.deploybot_key" in result.reason
    assert [c.status for c in fake.dispatches()] == [204]
    assert len(fake.runs) == 1  # GitHub started it: it runs although nobody saw it


async def test_timed_out_before_the_late_run_was_listed_it_is_still_found_and_cancelled(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.list_delay_s = (2, 2.5)
    fake.script(Script(running_s=60, cancel_s=0.5))
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, timeout_s=0.5, find_s=5).run(
            plan=PLAN, idempotency_key=KEY, fencing_token=1
        )
    (run_id,) = ours(fake)
    assert isinstance(result, DeployResult)
    assert result.result == "timed_out"
    assert next(r for r in fake.runs if r.id == run_id).status() == ("completed", "cancelled")
    assert len(fake.called(r"/cancel$")) == 1


async def test_losing_sight_of_a_running_run_is_an_unknown_outcome(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.script(Script(running_s=5))

    async def revoke() -> None:
        await asyncio.wait_for(fake.dispatched.wait(), 5)
        await asyncio.sleep(0.5)
        fake.token = "rotated"  # ours is refused from now on (401)

    async with client(fake) as gh:
        revoking = asyncio.create_task(revoke())
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
        await revoking
    assert isinstance(result, OutcomeUnknown)
    assert "lost track of the run" in result.reason
    (run_id,) = ours(fake)
    assert result.link == f"https://github.test/acme/backend/actions/runs/{run_id}"


async def test_a_refused_dispatch_fails_at_once_and_is_not_retried(
    fake: FakeGithub, tmp_path: Path
) -> None:
    async with client(fake) as gh:
        fake.token = "another-token"  # our token is now refused: 401
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert result.result == "failed"
    assert result.exit_code is None
    assert "refused the dispatch" in result.output_tail
    assert [c.status for c in fake.dispatches()] == [401]
    assert fake.runs == []


@pytest.mark.parametrize("conclusion", ["success", "failure"])
async def test_after_a_crash_status_keeps_looking_for_the_late_run_and_finishes_it(
    fake: FakeGithub, tmp_path: Path, conclusion: str
) -> None:
    """The worker dies right after the dispatch; GitHub lists the run 2-3 s later. The next
    worker keeps looking until the find window from the deploy's start has passed, follows
    the run to its end and finishes the Deployment the first worker recorded."""
    fake.list_delay_s = (2, 3)
    fake.script(Script(running_s=4, conclusion=conclusion))  # still running when listed
    started_at = datetime.now(UTC)
    async with client(fake) as gh:
        first = asyncio.create_task(
            deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
        )
        await asyncio.wait_for(fake.dispatched.wait(), 5)
        first.cancel()  # the worker died after the dispatch, before it saw the run
        with pytest.raises(asyncio.CancelledError):
            await first
    assert ours(fake)  # GitHub started it...
    assert not fake.called(r"/actions/runs/\d+")  # ...and the first worker never saw it
    fake.add_run("deploy v2.0.0 to production [th-1111:bbbbbbbbbbbbbbbb]", age_s=-3)
    async with client(fake) as gh:  # the next worker: a new client and deployer
        result = await deployer(tmp_path, gh).status(
            plan=PLAN, idempotency_key=KEY, fencing_token=1, started_at=started_at
        )
    assert len(fake.dispatches()) == 1
    assert isinstance(result, DeployResult)
    expected = ("succeeded", 0) if conclusion == "success" else ("failed", 1)
    assert (result.result, result.exit_code) == expected
    (run_id,) = ours(fake)
    assert f"/actions/runs/{run_id}" in result.output_tail
    # The Deployment the first worker recorded (with no status yet) now shows the run.
    (deployment,) = fake.deployments
    url = f"https://github.test/acme/backend/actions/runs/{run_id}"
    states = [(s["state"], s.get("log_url")) for s in fake.statuses[deployment["id"]]]
    assert states == [("in_progress", url), (conclusion, url)]


async def test_after_a_crash_no_run_by_the_end_of_the_window_is_unknown(
    fake: FakeGithub, tmp_path: Path
) -> None:
    """The window is counted from ``deploy_started`` on the injected clock: a deploy that
    started long ago is asked once, not for another window."""
    clock = [datetime(2026, 12, 7, 9, 0, tzinfo=UTC)]
    started_at = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # dispatch_s 2 + find_s 3 ago, and more
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh, now=lambda: clock[0]).status(
            plan=PLAN, idempotency_key="th-none:0", fencing_token=1, started_at=started_at
        )
    assert isinstance(result, OutcomeUnknown)
    assert "the dispatch's find window" in result.reason
    assert len(fake.called(r"/workflows/deploy.yml/runs$")) == 1
    assert (
        fake.called(r"/workflows/deploy.yml/runs$")[0].query["created"] == ">=2026-12-07T07:58:00Z"
    )


async def test_a_primary_rate_limit_while_following_waits_for_the_reset(
    fake: FakeGithub, tmp_path: Path
) -> None:
    fake.script(Script(running_s=1.0))
    fake.rate_limit(requests=8, window_s=2)
    async with client(fake) as gh:
        result = await deployer(tmp_path, gh).run(plan=PLAN, idempotency_key=KEY, fencing_token=1)
    assert isinstance(result, DeployResult)
    assert result.result == "succeeded"
    limited = [c for c in fake.calls if c.status == 403]
    assert limited  # it was limited, waited for the reset and went on
    assert len(fake.dispatches()) == 1


async def test_reads_retry_5xx_and_rate_limits_and_stop_after_the_bound(fake: FakeGithub) -> None:
    run = fake.add_run(f"deploy [{KEY}]")
    fake.fail("run", "500")
    fake.fail("run", "429", wait_s=0.2)
    async with client(fake) as gh:
        got = await gh.run("acme", "backend", run.id)
        assert got.id == run.id
        assert [c.status for c in fake.called(rf"/runs/{run.id}$")] == [500, 429, 200]
        fake.fail("jobs", "500", times=10)
        with pytest.raises(GithubUnavailable):
            await gh.run_jobs("acme", "backend", run.id)
    assert len(fake.called(rf"/runs/{run.id}/jobs$")) == 4  # attempts=4, then it gives up


def _rsa_pair() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


async def test_app_auth_fetches_an_installation_token_and_caches_it(fake: FakeGithub) -> None:
    private, public = _rsa_pair()
    fake.app_id, fake.app_public_key, fake.token = 123, public, "not-used-by-apps"
    run = fake.add_run(f"deploy [{KEY}]")
    offset_s = [0.0]
    app = AppAuth(app_id=123, private_key=SecretStr(private), installation_id=42)
    gh = GithubClient(auth=app, base_url=fake.base_url, now_s=lambda: time.time() + offset_s[0])
    async with gh:
        for _ in range(3):
            assert (await gh.run("acme", "backend", run.id)).id == run.id
        assert len(fake.called(r"/access_tokens$")) == 1  # cached
        offset_s[0] = 3600 - 200  # within refresh_before_s of the token's expiry
        await gh.run("acme", "backend", run.id)
        assert len(fake.called(r"/access_tokens$")) == 2
    assert all(c.status in (200, 201) for c in fake.calls), fake.calls

    # A wrong key's JWT is refused by the fake, and so nothing else is asked.
    wrong, _ = _rsa_pair()
    bad = AppAuth(app_id=123, private_key=SecretStr(wrong), installation_id=42)
    async with GithubClient(auth=bad, base_url=fake.base_url) as gh:
        with pytest.raises(GithubRefused):
            await gh.run("acme", "backend", run.id)
    assert fake.calls[-1].path.endswith("/access_tokens")
    assert fake.calls[-1].status == 401


async def test_compare_and_commit_status_for_the_evidence_card(fake: FakeGithub) -> None:
    fake.compare_commits = [
        {
            "sha": "b" * 40,
            "commit": {"message": "fix login timeout\n\nlonger text", "author": {"name": "Ann"}},
            "author": {"login": "ann"},
        }
    ]
    fake.commit_states = {SHA: "success"}
    async with client(fake) as gh:
        comparison = await gh.compare("acme", "backend", "v1.4.1", "v1.4.2")
        status = await gh.commit_status("acme", "backend", SHA)
        unknown = await gh.commit_status("acme", "backend", "c" * 40)
    assert (comparison.status, comparison.total_commits) == ("ahead", 1)
    assert comparison.html_url == "https://github.test/acme/backend/compare/v1.4.1...v1.4.2"
    (commit,) = comparison.commits
    assert (commit.subject, commit.author.login if commit.author else None) == (
        "fix login timeout",
        "ann",
    )
    assert (status.state, [s.context for s in status.statuses]) == ("success", ["ci"])
    assert (unknown.state, unknown.total_count) == ("pending", 0)
    assert [c.path for c in fake.calls] == [
        "/repos/acme/backend/compare/v1.4.1...v1.4.2",
        f"/repos/acme/backend/commits/{SHA}/status",
        f"/repos/acme/backend/commits/{'c' * 40}/status",
    ]
