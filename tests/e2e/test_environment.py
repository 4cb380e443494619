"""The environment, as an operator gets it wrong, through the real ``deploybot`` process:
one line naming the variable and exit 2, never a traceback; services that would run
unverified refuse to start; Redis that keeps nothing on disk is named."""

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from tests.conftest import TEST_REDIS_URL
from tests.harness import RedisServer, bot_env, deploybot, webhook_toml
from tests.support import free_port, stop_processes, write_setup


def _env(**values: str) -> dict[str, str]:
    return bot_env(values)


def assert_one_line(result: subprocess.CompletedProcess[str], *, starts: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "validation error" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(starts), result.stderr


BAD = [
    ("PORT", "abc", "PORT='abc': expected a port number"),
    ("SMTP_PORT", "", None),  # empty is unset: the default, no error
    ("SMTP_STARTTLS", "maybe", "SMTP_STARTTLS='maybe': expected true or false"),
    ("IMAP_SSL", "", None),
    ("DEPLOYBOT_LOG_LEVEL", "LOUD", "DEPLOYBOT_LOG_LEVEL='LOUD': expected one of DEBUG"),
    ("DEPLOYBOT_LOG_LEVEL", "", None),
    ("DEPLOYBOT_LOG_FORMAT", "", None),
    ("DEPLOYBOT_KEY_PREFIX", "a b", "DEPLOYBOT_KEY_PREFIX='a b': expected 1-64 letters"),
    ("DEPLOYBOT_KEY_PREFIX", "{x}", "DEPLOYBOT_KEY_PREFIX='{x}': expected 1-64 letters"),
    ("ANTHROPIC_BASE_URL", "not a url", "ANTHROPIC_BASE_URL: expected a URL"),
    ("REDIS_URL", "127.0.0.1:6379", "REDIS_URL: expected a URL such as redis://"),
    ("EMAIL_FROM", "deploybot", "EMAIL_FROM: expected an email address"),
    ("GITHUB_APP_ID", "x", "GITHUB_APP_ID='x': expected a whole number"),
]


CASES = [(c, *bad) for bad in BAD for c in ("check-config", "web") if bad[2] or c != "web"]


@pytest.mark.parametrize(
    ("command", "name", "value", "line"), CASES, ids=[f"{c}-{n}={v!r}" for c, n, v, _ in CASES]
)
def test_bad_environment_is_one_line(
    tmp_path: Path, key_prefix: str, command: str, name: str, value: str, line: str | None
) -> None:
    """A bad value: one line naming it, exit 2, for check-config and a server alike. An empty
    value is unset: check-config passes on the defaults."""
    config = write_setup(tmp_path)
    env = _env(
        DEPLOYBOT_CONFIG=str(config), REDIS_URL=TEST_REDIS_URL, DEPLOYBOT_KEY_PREFIX=key_prefix
    )
    env[name] = value
    args = [command] if command == "check-config" else [command, "--port", str(free_port())]
    result = deploybot(*args, env=env, cwd=tmp_path)
    if line is None:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout.startswith("ok: config ")
    else:
        assert_one_line(result, starts=f"deploybot: bad environment: {line}")


def test_slack_bot_token_without_signing_secret_refuses_to_serve(
    tmp_path: Path, key_prefix: str
) -> None:
    """SLACK_SIGNING_SECRET="" is unset: `deploybot web` must not start, so no unsigned
    request can ever reach /slack/events. check-config says so too."""
    config = write_setup(tmp_path)
    port = free_port()
    env = _env(
        DEPLOYBOT_CONFIG=str(config),
        REDIS_URL=TEST_REDIS_URL,
        DEPLOYBOT_KEY_PREFIX=key_prefix,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="",
    )
    for command in ("web", "run"):
        result = deploybot(
            command, "--host", "127.0.0.1", "--port", str(port), env=env, cwd=tmp_path
        )
        assert_one_line(
            result,
            starts=f"deploybot {command}: SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not",
        )
    with pytest.raises(httpx.ConnectError):  # nothing ever listened
        httpx.post(f"http://127.0.0.1:{port}/slack/events", content=b"{}", timeout=2)

    checked = deploybot("check-config", env=env, cwd=tmp_path)
    assert checked.returncode == 1
    assert "problem: SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not" in checked.stdout

    socket_mode = deploybot(
        "check-config", env=env | {"SLACK_APP_TOKEN": "xapp-test"}, cwd=tmp_path
    )
    assert "SLACK_SIGNING_SECRET" not in socket_mode.stdout


def test_empty_smtp_username_means_no_smtp_login(tmp_path: Path) -> None:
    """SMTP_USERNAME="" leaves no user name in the settings (the sender skips AUTH); a
    password without a user name is named as a problem rather than tried."""
    env = _env(SMTP_HOST="mx.example.com", SMTP_USERNAME="", SMTP_PASSWORD="")
    code = "from bot.app.settings import load_settings; print(repr(load_settings().smtp_username))"
    shown = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert shown.stdout.strip() == "None"

    config = write_setup(tmp_path)
    checked = deploybot(
        "check-config",
        env=env
        | {"DEPLOYBOT_CONFIG": str(config), "SMTP_PASSWORD": "pw", "EMAIL_AUTHSERV_ID": "mx"},
        cwd=tmp_path,
    )
    assert checked.returncode == 1
    assert "problem: SMTP_PASSWORD is set but SMTP_USERNAME is not" in checked.stdout


def test_email_needs_an_authserv_id_and_opting_out_is_warned(
    tmp_path: Path, key_prefix: str
) -> None:
    config = write_setup(tmp_path)
    env = _env(
        DEPLOYBOT_CONFIG=str(config),
        REDIS_URL=TEST_REDIS_URL,
        DEPLOYBOT_KEY_PREFIX=key_prefix,
        IMAP_HOST="127.0.0.1",
        IMAP_PORT=str(free_port()),
        IMAP_USERNAME="deploybot",
        IMAP_PASSWORD="pw",
        SMTP_HOST="127.0.0.1",
        EMAIL_FROM="deploybot@example.com",
        DEPLOYBOT_SECRET="reply-secret",
    )
    checked = deploybot("check-config", env=env, cwd=tmp_path)
    assert checked.returncode == 1
    assert "problem: EMAIL_AUTHSERV_ID is required with email" in checked.stdout
    for command in ("mail", "run"):
        args = [command] if command == "mail" else ["run", "--port", str(free_port())]
        refused = deploybot(*args, env=env, cwd=tmp_path)
        assert_one_line(refused, starts=f"deploybot {command}: EMAIL_AUTHSERV_ID is required")

    opted_out = env | {"EMAIL_REQUIRE_DMARC": "false"}
    checked = deploybot("check-config", env=opted_out, cwd=tmp_path)
    assert "warning: EMAIL_REQUIRE_DMARC=false: emailed requests and approvals" in checked.stdout
    assert "EMAIL_AUTHSERV_ID" not in checked.stdout
    # `deploybot mail` starts (its IMAP server is unreachable) and says so on stderr first.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "mail"],
        env=opted_out,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
    finally:
        stop_processes([proc])  # type: ignore[list-item]
    assert first.startswith("deploybot mail: warning: EMAIL_REQUIRE_DMARC=false")


def test_webhook_secret_is_separate_from_the_reply_secret(tmp_path: Path) -> None:
    config = write_setup(tmp_path, tail=webhook_toml("ci", "deploy frontend {version} to staging"))
    env = _env(DEPLOYBOT_CONFIG=str(config), DEPLOYBOT_SECRET="one-secret")
    missing = deploybot("check-config", env=env, cwd=tmp_path)
    assert missing.returncode == 1
    assert (
        "problem: webhooks (ci) are configured but DEPLOYBOT_WEBHOOK_SECRET is not set"
        in missing.stdout
    )

    shared = deploybot(
        "check-config", env=env | {"DEPLOYBOT_WEBHOOK_SECRET": "one-secret"}, cwd=tmp_path
    )
    assert shared.returncode == 1
    assert "never share DEPLOYBOT_SECRET with another system" in shared.stdout
    refused = deploybot(
        "worker", env=env | {"DEPLOYBOT_WEBHOOK_SECRET": "one-secret"}, cwd=tmp_path
    )
    assert_one_line(
        refused, starts="deploybot worker: DEPLOYBOT_WEBHOOK_SECRET equals DEPLOYBOT_SECRET"
    )

    separate = deploybot(
        "check-config", env=env | {"DEPLOYBOT_WEBHOOK_SECRET": "ci-secret"}, cwd=tmp_path
    )
    assert separate.returncode == 0, separate.stdout


# -- Redis durability --------------------------------------------------------------------


@pytest.fixture
def volatile_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of our own that keeps nothing on disk (appendonly no, save "")."""
    with RedisServer(tmp_path / "redis", persistence="none").running() as server:
        yield server.url


def test_redis_that_keeps_nothing_is_named(tmp_path: Path, volatile_redis: str) -> None:
    config = write_setup(tmp_path)
    env = _env(DEPLOYBOT_CONFIG=str(config), REDIS_URL=volatile_redis)
    checked = deploybot("check-config", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout  # a warning, not an error
    assert (
        'warning: Redis keeps nothing on disk (appendonly no, save ""): any restart loses '
        "everything: threads, queued requests, approvals, locks, deploy claims" in checked.stdout
    )
    Redis.from_url(volatile_redis).config_set("appendonly", "yes")
    durable = deploybot("check-config", env=env, cwd=tmp_path)
    assert "Redis keeps nothing" not in durable.stdout
    assert "could not tell" not in durable.stdout

    Redis.from_url(volatile_redis).config_set("appendonly", "no")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().endswith(": ready\n")  # it starts all the same
    finally:
        stop_processes([proc])  # type: ignore[list-item]
    assert proc.stderr is not None
    assert "deploybot worker: warning: Redis keeps nothing on disk" in proc.stderr.read()


def test_redis_that_refuses_config_could_not_tell(tmp_path: Path) -> None:
    """Managed Redis often refuses CONFIG: a user without it on the test Redis."""
    user, password = f"test-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = Redis.from_url(TEST_REDIS_URL)
    admin.acl_setuser(
        user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
        commands=["+@all", "-config"],
    )  # fmt: skip
    try:
        url = TEST_REDIS_URL.replace("redis://", f"redis://{user}:{password}@", 1)
        config = write_setup(tmp_path)
        checked = deploybot(
            "check-config", env=_env(DEPLOYBOT_CONFIG=str(config), REDIS_URL=url), cwd=tmp_path
        )
        assert checked.returncode == 0, checked.stdout
        assert "warning: could not tell how Redis keeps what it acknowledged" in checked.stdout
        assert password not in checked.stdout + checked.stderr
    finally:
        admin.acl_deluser(user)
        admin.close()
