"""Issue 9.5 and 9.6 through the real worker on real Redis, counting the deploy script's calls:
an approved plan never runs over a world that changed since it was shown (the live version,
the tag's commit), other open requests for the pair are superseded when one runs, and a deploy
never quietly goes back to an older version."""

import subprocess
from pathlib import Path

from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.core.thread.events import PlanProposed
from bot.core.thread.thread import Thread
from tests.support import GIT_ENV, calls, make_app, say, texts, thread_of, write_setup


def open_plan(thread: Thread) -> str:
    approval = thread.open_approval()
    assert approval is not None, texts(thread)
    return approval.plan.short_id


async def two_requests(app: App) -> tuple[str, str]:
    """Thread a asks for v1.4.1 in production, thread b for v1.4.2; both wait."""
    await say(app, "a", "slack:U0CAROL", "deploy backend v1.4.1 to production", new=True)
    await say(app, "b", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    a, b = await thread_of(app, "a"), await thread_of(app, "b")
    assert a.status == b.status == "awaiting_approval"
    return open_plan(a), open_plan(b)


async def test_running_one_request_supersedes_the_other_everywhere(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path))
    plan_a, plan_b = await two_requests(app)
    await say(app, "b", "slack:U0ALICE", f"approve {plan_b}")
    await app.worker.run_until_idle()
    assert [c.split()[2] for c in calls(tmp_path)] == ["v1.4.2"]

    a = await thread_of(app, "a")
    assert a.status == "done"
    assert a.open_approval() is None
    closing = [e for e in a.events if e.type == "message_sent" and "superseded" in e.text]
    assert closing, texts(a)
    assert "backend v1.4.2 to production started" in closing[0].text
    # The closing message replaces the request in place (its Slack card loses its buttons).
    request = next(
        e for e in a.events if e.type == "message_sent" and e.purpose == "approval_request"
    )
    assert any(getattr(e, "replaces", None) == request.id for e in closing)

    # Approving the superseded plan by name decides nothing, and says why.
    await say(app, "a", "slack:U0BOB", f"approve {plan_a}")
    await app.worker.run_until_idle()
    a = await thread_of(app, "a")
    assert "was superseded" in texts(a)[-1]
    assert [c.split()[2] for c in calls(tmp_path)] == ["v1.4.2"]  # no silent rollback


async def test_an_approved_plan_made_against_an_old_live_version_does_not_run(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """The case from the issue without the supersede notice (lost, or the request made by an
    older version): a is approved after b deployed; the re-check under the lock stops it."""
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path))
    plan_a, plan_b = await two_requests(app)
    await redis.delete(app.context.keys.pending_approvals("backend", "production"))
    await say(app, "b", "slack:U0ALICE", f"approve {plan_b}")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "a")).status == "awaiting_approval"  # not told

    await say(app, "a", "slack:U0BOB", f"approve {plan_a}")
    await app.worker.run_until_idle()
    a = await thread_of(app, "a")
    said = "\n".join(texts(a))
    assert f"Plan #{plan_a} did not run: production is now v1.4.2, deployed by carol" in said
    assert "this plan was made against nothing deployed" in said
    # Made again from what is live now: v1.4.1 is older than v1.4.2, so it is a rollback.
    assert "would roll backend in production back from v1.4.2 to v1.4.1" in said
    assert [c.split()[2] for c in calls(tmp_path)] == ["v1.4.2"]


async def test_a_tag_moved_after_approval_is_proposed_again(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path))
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    first = open_plan(thread)
    planned_sha = thread.open_approval().plan.sha  # type: ignore[union-attr]

    repo = tmp_path / "repos" / "backend"
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "sneaky"], check=True, env=GIT_ENV)
    subprocess.run([*git, "tag", "-f", "v1.4.2"], check=True, env=GIT_ENV, capture_output=True)

    await say(app, "t", "slack:U0ALICE", f"approve {first}")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    said = "\n".join(texts(thread))
    assert "the tag v1.4.2 now points at" in said
    assert f"not {planned_sha[:7]}" in said
    assert calls(tmp_path) == []
    # Proposed again with the new commit, for a fresh approval; the old one does not count.
    assert thread.status == "awaiting_approval"
    plans = [e.plan for e in thread.events if isinstance(e, PlanProposed)]
    assert plans[-1].sha != planned_sha
    assert plans[-1].version == "v1.4.2"
    await say(app, "t", "slack:U0ALICE", f"approve {open_plan(thread)}")
    await app.worker.run_until_idle()
    assert [c.split()[2] for c in calls(tmp_path)] == ["v1.4.2"]


async def test_deploying_an_older_version_is_refused_as_a_rollback(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path))
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.2 to staging", new=True)
    await app.worker.run_until_idle()
    await say(app, "s", "slack:U0CAROL", "deploy backend v1.4.0 to staging")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "s")
    assert texts(thread)[-1].startswith(
        "That would roll backend in staging back from v1.4.2 to v1.4.0; say "
        "'rollback backend in staging to v1.4.0' if you mean it."
    )
    assert [c.split()[:3] for c in calls(tmp_path)] == [["deploy", "backend", "v1.4.2"]]
    await say(app, "s", "slack:U0CAROL", "rollback backend in staging to v1.4.0")
    await app.worker.run_until_idle()
    assert [c.split()[:3] for c in calls(tmp_path)] == [
        ["deploy", "backend", "v1.4.2"],
        ["rollback", "backend", "v1.4.0"],
    ]


async def test_a_failed_deploy_asked_again_is_a_new_attempt_with_its_own_approval(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    """Each attempt runs at most once; asking again after a failure makes a new attempt
    (its own plan hash and idempotency key) that needs its own approval and then runs."""
    app = make_app(redis, prefix=key_prefix, config_file=write_setup(tmp_path))
    (tmp_path / "scripts" / "exit_code").write_text("1")
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production", new=True)
    await app.worker.run_until_idle()
    first = open_plan(await thread_of(app, "t"))
    await say(app, "t", "slack:U0ALICE", "approve")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t")).status == "failed"

    (tmp_path / "scripts" / "exit_code").write_text("0")
    await say(app, "t", "slack:U0CAROL", "deploy backend v1.4.2 to production")
    await app.worker.run_until_idle()
    thread = await thread_of(app, "t")
    second = open_plan(thread)
    assert second != first
    assert thread.open_approval().plan.attempt == 2  # type: ignore[union-attr]
    # The same plan asked again counts as one plan: a bare approve still works.
    await say(app, "t", "slack:U0BOB", "approve")
    await app.worker.run_until_idle()
    assert (await thread_of(app, "t")).status == "done"
    keys = [c.split()[-1] for c in calls(tmp_path)]
    assert len(keys) == 2
    assert keys[0] != keys[1]  # each attempt has its own idempotency key
