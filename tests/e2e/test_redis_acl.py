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
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.app.exposure import acl_setuser
from tests.conftest import mark_intact
from tests.e2e.test_api import SECRET, TOKEN, drive, healthy
from tests.support import free_port, inherited_env, stop_processes, write_setup

pytestmark = pytest.mark.e2e

PREFIX = "acltest"
PASSWORD = "acl-pw-4f9e1c"
ADMIN = ("admin", "admin-pw-0b7d")


def redis_server(base: Path, *extra: str) -> tuple[int, int]:
    port = free_port()
    pidfile = base / f"redis-{port}.pid"
    subprocess.run(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--daemonize", "yes", "--pidfile", str(pidfile),
         "--logfile", str(base / f"redis-{port}.log"), *extra],
        check=True,
    )  # fmt: skip
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            ok = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
            if ok.stdout.strip() in (b"PONG", b"NOAUTH Authentication required."):
                return port, int(pidfile.read_text())
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("redis-server did not start")


def cli(port: int, *args: str, user: tuple[str, str] | None = None) -> str:
    auth = ["--user", user[0], "--pass", user[1], "--no-auth-warning"] if user else []
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *auth, *args], capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[int]:
    base = Path(tempfile.mkdtemp(prefix="dbt-acl-"))
    port, pid = redis_server(base)
    try:
        line = acl_setuser(PREFIX).replace(">PASSWORD", f">{PASSWORD}")
        assert cli(port, *shlex.split(line)).strip() == "OK"
        cli(port, "ACL", "SETUSER", ADMIN[0], "on", f">{ADMIN[1]}", "~*", "&*", "+@all")
        cli(port, "ACL", "SETUSER", "default", "off")
        mark_intact(PREFIX, url=f"redis://{ADMIN[0]}:{ADMIN[1]}@127.0.0.1:{port}/0")
        yield port
    finally:
        subprocess.run(["kill", "-9", str(pid)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def bot_env(config: Path, redis_url: str) -> dict[str, str]:
    inherited = inherited_env()
    return inherited | {
        "REDIS_URL": redis_url,
        "DEPLOYBOT_CONFIG": str(config),
        "DEPLOYBOT_KEY_PREFIX": PREFIX,
        "DEPLOYBOT_API_TOKEN": TOKEN,
        "DEPLOYBOT_WEBHOOK_SECRET": SECRET,
    }


def deploybot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_the_readme_acl_user_is_enough_for_the_whole_flow(
    tmp_path: Path, acl_redis: int
) -> None:
    config = write_setup(tmp_path)
    config.write_text(
        config.read_text() + '[webhooks.ci]\ninstruction = "deploy frontend {version} to staging"\n'
    )
    env = bot_env(config, f"redis://deploybot:{PASSWORD}@127.0.0.1:{acl_redis}/0")
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path)
        for args in (["web", "--host", "127.0.0.1", "--port", str(port)], ["worker"])
    ]
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ) as client:
            await healthy(client, procs[0])
            await drive(client, tmp_path)
    finally:
        stop_processes(procs)
    assert procs[1].returncode == 0

    checked = deploybot(env, "check-config")
    listed = deploybot(env, "threads", "list")
    audited = deploybot(env, "audit", "--since", "1h")

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
    base = Path(tempfile.mkdtemp(prefix="dbt-acl-open-"))
    port, pid = redis_server(base)
    try:
        env = bot_env(config, f"redis://127.0.0.1:{port}/0")
        checked = deploybot(env, "check-config")
        with_password = bot_env(config, f"redis://:secret-pw@127.0.0.1:{port}/0")
        cli(port, "CONFIG", "SET", "requirepass", "secret-pw")
        closed = deploybot(with_password, "check-config")
    finally:
        subprocess.run(["kill", "-9", str(pid)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)

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
