"""``deploybot audit --since 7d``: the trail of requests, model choices, approvals, deploys."""

import asyncio
import json
from pathlib import Path

from redis.asyncio import Redis

from bot.app.bootstrap import utc_now
from bot.core.thread.intents import Deploy
from tests.conftest import TEST_REDIS_URL
from tests.harness import bot_env, deploybot
from tests.support import ScriptedAgent, make_app, say, write_setup


async def test_audit_prints_the_trail_as_json_lines(
    redis: Redis, key_prefix: str, tmp_path: Path
) -> None:
    config = write_setup(tmp_path)
    agent = ScriptedAgent([Deploy(service="backend", environment="production")])
    app = make_app(redis, prefix=key_prefix, config_file=config, agent=agent, clock=utc_now)
    await say(app, "t1", "slack:U0CAROL", "ship the backend to prod please", new=True)
    await say(app, "t1", "slack:U0CAROL", "approve")  # refused: the requester
    await say(app, "t1", "slack:U0BOB", "approve")
    await say(app, "t2", "slack:U0ALICE", "lock staging db migration", new=True)
    await app.worker.run_until_idle()

    env = bot_env(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": key_prefix,
        }
    )
    done = await asyncio.to_thread(deploybot, "audit", "--since", "1h", env=env, timeout_s=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]

    def trail(thread_id: str) -> list[str]:
        return [r["event"] for r in records if r["thread"] == thread_id]

    assert trail("t1") == [
        "user_message",
        "intent_chosen",
        "plan_proposed",
        "approval_requested",
        "user_message",
        "approval_refused",
        "user_message",
        "approval_decided",
        "deploy_started",
        "deploy_finished",
    ]
    assert trail("t2") == ["user_message", "lock_changed"]
    chosen = next(r for r in records if r["event"] == "intent_chosen")
    assert (chosen["model"], chosen["input_tokens"], chosen["source"]) == ("scripted", 10, "model")
    decided = next(r for r in records if r["event"] == "approval_decided")
    assert (decided["person"], decided["decision"]) == ("bob", "approve")
    finished = next(r for r in records if r["event"] == "deploy_finished")
    assert finished["result"] == "succeeded"
    lock = next(r for r in records if r["event"] == "lock_changed")
    assert (lock["by"], lock["environment"], lock["reason"]) == ("alice", "staging", "db migration")

    bad = await asyncio.to_thread(
        deploybot, "audit", "--since", "last tuesday", env=env, timeout_s=60
    )
    assert bad.returncode == 2
    assert "neither like 7d/12h/30m nor an ISO time" in bad.stderr
