"""A version is its commit (issue 15.3), through the real entry points: signed webhooks and
the HTTP API into the in-process Starlette app, a real worker on real Redis, real git
repositories with tag aliases, a re-pointed tag and non-version tags, and the deploy script's
call log counting what ran. Quarantined commits deploy 0 times under any name."""

import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from bot.app.bootstrap import App
from bot.app.webapp import build_web_app
from bot.core.thread.events import PlanProposed
from bot.core.thread.intents import Deploy, Intent
from channels.api import api_routes
from channels.api.auth import sign
from channels.api.bodies import ThreadView
from tests.support import GIT_ENV, Clock, ScriptedAgent, calls, make_app, seq_id, write_setup

TOKEN = "api-t0ken-for-commit-tests"
SECRET = "webhook-s3cret-for-commit-tests"
WEBHOOKS = """
[webhooks.ci]
instruction = "deploy backend {version} to staging"
[webhooks.release]
instruction = "deploy backend {version} to production"
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def commit(repo: Path, subject: str) -> str:
    (repo / "VERSION").write_text(subject)
    git(repo, "add", "VERSION")
    git(repo, "commit", "-q", "-m", subject)
    return git(repo, "rev-parse", "HEAD")


@dataclass
class Bot:
    client: httpx.AsyncClient
    app: App
    base: Path
    agent: ScriptedAgent

    @property
    def repo(self) -> Path:
        return self.base / "repos" / "backend"

    async def hook(self, name: str, **body: str) -> str:
        raw = json.dumps(body).encode()
        headers = {"X-Deploybot-Signature": sign(raw, secret=SECRET)}
        got = await self.client.post(f"/v1/webhooks/{name}", content=raw, headers=headers)
        assert got.status_code == 201, got.text
        await self.app.worker.run_until_idle()
        return str(got.json()["id"])

    async def ask(self, text: str, user: str = "carol") -> str:
        got = await self.client.post("/v1/threads", json={"text": text, "user": user})
        assert got.status_code == 201, got.text
        await self.app.worker.run_until_idle()
        return str(got.json()["id"])

    async def view(self, thread_id: str) -> ThreadView:
        got = await self.client.get(f"/v1/threads/{thread_id}")
        assert got.status_code == 200, got.text
        return ThreadView.model_validate(got.json())

    async def said(self, thread_id: str) -> list[str]:
        view = await self.view(thread_id)
        return [e.text for e in view.events if e.type == "message_sent"]

    async def approve(self, thread_id: str, user: str = "alice") -> None:
        shown = (await self.view(thread_id)).approval
        assert shown is not None, await self.said(thread_id)
        body = {"type": "approval", "decision": "approve", "user": user,
                "plan_hash": shown.plan_hash}  # fmt: skip
        got = await self.client.post(f"/v1/threads/{thread_id}/events", json=body)
        assert got.status_code == 202, got.text
        await self.app.worker.run_until_idle()

    def ran(self) -> list[list[str]]:
        """(kind, version, environment) of each call of the deploy and rollback scripts."""
        return [c.split()[:4:] for c in calls(self.base)]


@pytest.fixture
async def bot(redis: Redis, key_prefix: str, tmp_path: Path) -> AsyncIterator[Bot]:
    config = write_setup(tmp_path)
    config.write_text(config.read_text() + WEBHOOKS)
    repo = tmp_path / "repos" / "backend"
    for alias in ("1.4.2", "release-2026-12", "build-417"):  # other names for v1.4.2
        git(repo, "tag", alias, "v1.4.2^{}")
    clock = Clock()
    agent = ScriptedAgent()
    app = make_app(redis, prefix=key_prefix, config_file=config, clock=clock, agent=agent)
    routes = api_routes(config=app.context.config, ports=app.ports, api_token=TOKEN,
                        webhook_secret=SECRET, clock=clock, new_id=seq_id)  # fmt: skip
    transport = httpx.ASGITransport(app=build_web_app(app, routes=routes))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://deploybot.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield Bot(client=client, app=app, base=tmp_path, agent=agent)


def model_says(bot: Bot, *intents: Intent) -> None:
    """What the (scripted) model proposes for text the grammar does not take."""
    bot.agent.script.extend(intents)


def staging(version: str) -> Deploy:
    return Deploy(service="backend", environment="staging", version=version)


def production(version: str) -> Deploy:
    return Deploy(service="backend", environment="production", version=version)


async def quarantine_v142_by_rollback(bot: Bot) -> str:
    """v1.4.1 then v1.4.2 go to staging by webhook; carol rolls back, which quarantines
    v1.4.2's commit in staging. Returns that commit."""
    await bot.hook("ci", version="v1.4.1")
    await bot.hook("ci", version="v1.4.2")
    tid = await bot.ask("rollback backend in staging")
    assert any("quarantined" in e.type for e in (await bot.view(tid)).events), await bot.said(tid)
    assert bot.ran() == [
        ["deploy", "backend", "v1.4.1", "staging"],
        ["deploy", "backend", "v1.4.2", "staging"],
        ["rollback", "backend", "v1.4.1", "staging"],
    ]
    return git(bot.repo, "rev-parse", "v1.4.2^{}")


async def test_a_quarantined_commit_deploys_under_no_name(bot: Bot) -> None:
    bad = await quarantine_v142_by_rollback(bot)
    # The grammar takes "1.4.2"; the model proposes the names the grammar does not take.
    model_says(bot, staging("release-2026-12"), staging("build-417"))
    for version in ("1.4.2", "release-2026-12", "build-417", "v1.4.2"):
        tid = await bot.hook("ci", version=version, build="again")  # a new delivery
        refusal = (await bot.said(tid))[-1]
        assert refusal.startswith(f"backend {version} is quarantined in staging"), refusal
        if version != "v1.4.2":
            assert f"it is commit {bad[:7]}, quarantined as v1.4.2" in refusal
    assert len(bot.ran()) == 3  # nothing more ran

    # "The newest tag" passes over the quarantined commit (all four of its names).
    tid = await bot.ask("deploy backend to staging")
    plan = (await bot.view(tid)).events
    assert bot.ran()[-1] == ["deploy", "backend", "v1.4.1", "staging"], await bot.said(tid)
    assert not any(bad in str(e) and e.type == "deploy_started" for e in plan)


async def test_a_re_pointed_tag_is_judged_by_its_new_commit(bot: Bot) -> None:
    bad = await quarantine_v142_by_rollback(bot)
    git(bot.repo, "checkout", "-q", "main")
    fixed = commit(bot.repo, "fix the login timeout properly")
    git(bot.repo, "tag", "-f", "1.4.2", fixed)  # the alias now names the fixed commit

    tid = await bot.hook("ci", version="1.4.2", build="2")
    view = await bot.view(tid)
    planned = [e.plan.sha for e in view.events if isinstance(e, PlanProposed)]
    assert planned == [fixed], await bot.said(tid)
    assert bot.ran()[-1] == ["deploy", "backend", "1.4.2", "staging"]
    # The quarantined commit stays quarantined by its other names.
    model_says(bot, staging("build-417"))
    for version in ("v1.4.2", "build-417"):
        tid = await bot.hook("ci", version=version, build="3")
        assert f"backend {version} is quarantined in staging" in (await bot.said(tid))[-1]
    assert len(bot.ran()) == 4
    assert bad != fixed


async def test_non_version_tags_go_backwards_only_as_a_rollback_and_a_fork_is_shown(
    bot: Bot,
) -> None:
    """build-NNN tags say nothing about order: git ancestry does. A commit that is not built
    on what is live is named on the card and bound into what the approver approves."""
    repo = bot.repo
    git(repo, "tag", "build-416", "v1.4.1^{}")
    git(repo, "checkout", "-q", "-b", "hotfix", "v1.4.0")
    fork = commit(repo, "hotfix on top of 1.4.0")
    git(repo, "tag", "hotfix-1", fork)
    model_says(bot, *(production(v) for v in ("build-417", "build-416", "hotfix-1")))

    first = await bot.hook("release", version="build-417")
    await bot.approve(first)
    assert bot.ran() == [["deploy", "backend", "build-417", "production"]]

    older = await bot.hook("release", version="build-416")
    refusal = (await bot.said(older))[-1]
    assert refusal.startswith(
        "That would roll backend in production back from build-417 to build-416; say "
        "'rollback backend in production to build-416' if you mean it."
    ), refusal
    assert (await bot.view(older)).approval is None

    forked = await bot.hook("release", version="hotfix-1")
    view = await bot.view(forked)
    assert view.approval is not None
    lineage = view.approval.plan.lineage
    assert lineage is not None
    assert (lineage.relation, lineage.missing) == ("diverged", 2)
    card = [t for t in await bot.said(forked) if t.startswith("Plan #")][-1]
    assert "not built on what is live: 2 commits of build-417 are missing" in card.splitlines()[0]
    await bot.approve(forked)
    assert bot.ran()[-1] == ["deploy", "backend", "hotfix-1", "production"]
    assert len(bot.ran()) == 2
