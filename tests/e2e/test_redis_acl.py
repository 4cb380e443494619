"""The bot's Redis user can be the README's least-privilege ACL user, and the bot says when
its Redis lets anyone in (issue 15.1).

A private Redis with the ``default`` user off and the user from ``acl_setuser`` (the line
the README shows): ``deploybot web`` and ``worker`` launch, approve and deploy over the API,
a signed webhook deploys, ``check-config``, ``threads list`` and ``audit`` read; Redis's
``ACL LOG`` (read as an admin) then holds no refused command. A Redis without a password
makes check-config and start-up warn, with the ACL line to use.
"""

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app.findings.exposure import acl_setuser
from tests.conftest import mark_intact
from tests.e2e.test_api import SECRET, TOKEN, WEBHOOK, drive
from tests.harness import Processes, RedisServer, api_client, bot_env, deploybot, healthy
from tests.support import free_port, write_setup

pytestmark = pytest.mark.e2e

PREFIX = "acltest"
PASSWORD = "acl-pw-4f9e1c"
ADMIN = ("admin", "admin-pw-0b7d")


def cli(port: int, *args: str, user: tuple[str, str] | None = None) -> str:
    auth = ["--user", user[0], "--pass", user[1], "--no-auth-warning"] if user else []
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *auth, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[int]:
    """A Redis whose ``default`` user is off: the README's ACL user and an admin."""
    with RedisServer(tmp_path / "redis").running() as server:
        line = acl_setuser(PREFIX).replace(">PASSWORD", f">{PASSWORD}")
        assert cli(server.port, *shlex.split(line)).strip() == "OK"
        cli(server.port, "ACL", "SETUSER", ADMIN[0], "on", f">{ADMIN[1]}", "~*", "&*", "+@all")
        cli(server.port, "ACL", "SETUSER", "default", "off")
        mark_intact(PREFIX, url=f"redis://{ADMIN[0]}:{ADMIN[1]}@127.0.0.1:{server.port}/0")
        yield server.port


def env_for(config: Path, redis_url: str) -> dict[str, str]:
    return bot_env(
        {
            "REDIS_URL": redis_url,
            "DEPLOYBOT_CONFIG": str(config),
            "DEPLOYBOT_KEY_PREFIX": PREFIX,
            "DEPLOYBOT_API_TOKEN": TOKEN,
            "DEPLOYBOT_WEBHOOK_SECRET": SECRET,
        }
    )


async def test_the_readme_acl_user_is_enough_for_the_whole_flow(
    tmp_path: Path, acl_redis: int
) -> None:
    config = write_setup(tmp_path, tail=WEBHOOK)
    env = env_for(config, f"redis://deploybot:{PASSWORD}@127.0.0.1:{acl_redis}/0")
    port = free_port()
    with Processes(env, tmp_path, logs=False) as procs:
        procs.web(port)
        worker = procs.start("worker")
        await healthy(port, alive=procs.procs)
        async with api_client(port, TOKEN) as client:
            await drive(client, tmp_path)
    assert worker.returncode == 0

    checked = deploybot("check-config", env=env, timeout_s=60)
    listed = deploybot("threads", "list", env=env, timeout_s=60)
    audited = deploybot("audit", "--since", "1h", env=env, timeout_s=60)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "without a password" not in checked.stdout
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 2  # the API's thread and the webhook's
    assert audited.returncode == 0, audited.stderr
    assert '"deploy_finished"' in audited.stdout or "deploy" in audited.stdout
    refused = cli(acl_redis, "ACL", "LOG", "100", user=ADMIN)
    assert refused.strip() == "", refused  # nothing the bot did was refused


def test_a_redis_that_answers_without_a_password_is_warned_about(tmp_path: Path) -> None:
    config = write_setup(tmp_path)
    with RedisServer(tmp_path / "redis").running() as server:
        port = server.port
        env = env_for(config, f"redis://127.0.0.1:{port}/0")
        checked = deploybot("check-config", env=env, timeout_s=60)
        with_password = env_for(config, f"redis://:secret-pw@127.0.0.1:{port}/0")
        cli(port, "CONFIG", "SET", "requirepass", "secret-pw")
        closed = deploybot("check-config", env=with_password, timeout_s=60)

    warning = next(
        (line for line in checked.stdout.splitlines() if "without a password" in line), None
    )
    assert warning is not None, checked.stdout
    assert warning.startswith(f"warning: Redis at 127.0.0.1:{port} answers without a password")
    assert f"ACL SETUSER deploybot on >PASSWORD resetkeys ~{PREFIX}:*" in warning
    assert "without a password" not in closed.stdout, closed.stdout


def test_the_docs_show_the_acl_line() -> None:
    operations = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()

    assert acl_setuser("deploybot") in operations
