"""The other commands of the contract, run as a user would."""

import json
import subprocess
from pathlib import Path

from redis.asyncio import Redis

from tests.conftest import TEST_REDIS_URL
from tests.harness import bot_env
from tests.harness import deploybot as run
from tests.support import write_setup


def deploybot(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``deploybot ARGS`` with only the settings ``env`` gives (none inherited)."""
    return run(*args, env=bot_env(env), stdin=stdin)


def test_check_config(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    good = deploybot("check-config", env={"DEPLOYBOT_CONFIG": str(config)})
    assert good.returncode == 0, good.stderr
    assert "ok: config " in good.stdout
    assert "2 services, 2 environments, 4 people" in good.stdout
    assert "REDIS_URL not set" in good.stdout

    (tmp_path / "scripts" / "deploy.sh").chmod(0o644)
    not_executable = deploybot("check-config", env={"DEPLOYBOT_CONFIG": str(config)})
    assert not_executable.returncode == 1
    assert "deploy.sh is not executable" in not_executable.stdout

    config.write_text(config.read_text().replace('"alice", "bob", "dave"', '"alice", "zed"'))
    bad = deploybot("check-config", env={"DEPLOYBOT_CONFIG": str(config)})
    assert bad.returncode == 2
    assert "environments.production.approvers[1]: 'zed' is not in [people]" in bad.stderr


def test_check_config_names_routes_without_their_channel(tmp_path: Path) -> None:
    config = write_setup(
        tmp_path,
        production='approval_channel = "slack:C0DEPLOYS"\nescalate_to = "email:alice@example.com"',
    )
    env = {"DEPLOYBOT_CONFIG": str(config)}
    missing = deploybot("check-config", env=env)
    assert missing.returncode == 1
    assert (
        "problem: environments.production.approval_channel: slack:C0DEPLOYS needs SLACK_BOT_TOKEN"
        in missing.stdout
    )
    assert "environments.production.escalate_to: email:alice@example.com needs SMTP_HOST" in (
        missing.stdout
    )
    ready = deploybot(
        "check-config",
        env=env
        | {
            "SLACK_BOT_TOKEN": "test-token",
            "SLACK_SIGNING_SECRET": "test-signing-secret",
            "SMTP_HOST": "127.0.0.1",
            "EMAIL_AUTHSERV_ID": "mx.example.com",
            "EMAIL_FROM": "deploybot@example.com",
            "DEPLOYBOT_SECRET": "s",
        },
    )
    assert ready.returncode == 0, ready.stdout

    config.write_text(config.read_text().replace("slack:C0DEPLOYS", "sms:555"))
    bad = deploybot("check-config", env=env)
    assert bad.returncode == 2
    assert "environments.production.approval_channel: 'sms:555': the channel must be" in (
        bad.stderr
    )


def test_commands_that_need_redis_say_so() -> None:
    worker = deploybot("worker")
    assert worker.returncode == 2
    assert "REDIS_URL is required" in worker.stderr
    web = deploybot("web")
    assert web.returncode == 2
    assert "deploybot web: REDIS_URL is required." in web.stderr
    mail = deploybot("mail")
    assert mail.returncode == 2
    assert "deploybot mail: set REDIS_URL" in mail.stderr


async def test_chat_on_redis_then_inspect_the_thread(
    tmp_path: Path, key_prefix: str, redis: Redis
) -> None:
    """``redis`` removes the keys under ``key_prefix`` afterwards."""
    config = write_setup(tmp_path)
    env = {
        "REDIS_URL": TEST_REDIS_URL,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": key_prefix,
    }
    chat = deploybot(
        "chat", "--user", "carol", env=env, stdin="deploy backend v1.4.0 to production\n"
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.startswith("deploybot: Redis at redis://127.0.0.1:")

    listed = deploybot("threads", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    thread_id, status = line.split()[:2]
    assert status == "awaiting_approval"
    assert line.endswith("deploy backend v1.4.0 to production")

    shown = deploybot("threads", "show", thread_id, env=env)
    head, *events = shown.stdout.splitlines()
    assert json.loads(head)["status"] == "awaiting_approval"
    assert [json.loads(e)["type"] for e in events] == [
        "user_message",
        "intent_chosen",
        "plan_proposed",
        "approval_requested",
        "message_sent",
    ]

    prompt = deploybot("threads", "show", thread_id, "--prompt", env=env)
    assert prompt.returncode == 0, prompt.stderr
    assert "<thread>" in prompt.stdout
    assert "deploy backend v1.4.0 to production" in prompt.stdout

    missing = deploybot("threads", "show", "nope", env=env)
    assert missing.returncode == 1
    assert "no thread nope" in missing.stderr
