"""Who commands run as (bot/core/config/principal.py), the config keys that say it, repository
URLs that would put a credential in git's argv, and the environment git gets."""

from pathlib import Path

import pytest

from bot.core.config.childenv import tool_env
from bot.core.config.config import parse_config
from bot.core.config.principal import (
    DEFAULT_USER,
    AsBot,
    AsRoot,
    AsUser,
    CommandUser,
    Refused,
    command_user,
    configured_run_as,
)
from bot.core.config.service import repo_credentials
from bot.core.errors import ConfigError


@pytest.mark.parametrize(
    ("configured", "bot_user", "bot_is_root", "root_allowed", "expected"),
    [
        # a root bot: never root by accident
        (None, "root", True, False, AsUser(name=DEFAULT_USER, source="default")),
        ("deployer", "root", True, False, AsUser(name="deployer", source="K")),
        ("deployer", "root", True, True, AsUser(name="deployer", source="K")),
        (None, "root", True, True, AsRoot(source="DEPLOYBOT_RUN_COMMANDS_AS_ROOT")),
        ("root", "root", True, True, AsRoot(source="K")),
        # a plain-user bot: itself, or refused (it cannot switch)
        (None, "bot", False, False, AsBot()),
        ("bot", "bot", False, False, AsBot()),
        (None, "bot", False, True, AsBot()),
    ],
)
def test_who_runs_commands(
    configured: str | None,
    bot_user: str,
    bot_is_root: bool,
    root_allowed: bool,
    expected: CommandUser,
) -> None:
    got = command_user(
        configured=configured,
        source="K",
        bot_user=bot_user,
        bot_is_root=bot_is_root,
        root_allowed=root_allowed,
    )

    assert got == expected


@pytest.mark.parametrize(
    ("configured", "bot_user", "bot_is_root", "says"),
    [
        ("root", "root", True, "K runs commands as root"),
        ("deployer", "bot", False, "deploybot runs as 'bot', not as root"),
        ("root", "bot", False, "cannot start commands as another user"),
    ],
)
def test_refusals_say_why_and_how_to_fix_it(
    configured: str, bot_user: str, bot_is_root: bool, says: str
) -> None:
    got = command_user(
        configured=configured,
        source="K",
        bot_user=bot_user,
        bot_is_root=bot_is_root,
        root_allowed=False,
    )

    assert isinstance(got, Refused)
    assert says in got.reason
    assert "DEPLOYBOT_RUN_COMMANDS_AS_ROOT" in got.reason or "remove run_as" in got.reason


CONFIG = """
run_as = "{top}"
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
{service}
[services.frontend]
repo = "r"
deploy = ["./d"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
{production}
"""


def test_the_service_says_first_then_the_environment_then_the_top_level() -> None:
    config = parse_config(
        CONFIG.format(top="all", service='run_as = "svc"', production='run_as = "prod"'),
        base_dir=Path("/"),
    )

    assert configured_run_as(config, service="backend", environment="production") == (
        "svc",
        "services.backend.run_as",
    )
    assert configured_run_as(config, service="frontend", environment="production") == (
        "prod",
        "environments.production.run_as",
    )
    assert configured_run_as(config, service="frontend", environment="staging") == (
        "all",
        "run_as",
    )


@pytest.mark.parametrize("name", ["", "two words", "x;rm", "-rf", "a" * 40, "../root"])
def test_run_as_must_be_a_user_name(name: str) -> None:
    with pytest.raises(ConfigError, match=r"services\.backend\.run_as"):
        parse_config(
            CONFIG.format(top="ok", service=f'run_as = "{name}"', production=""),
            base_dir=Path("/"),
        )


@pytest.mark.parametrize(
    ("repo", "has_credential"),
    [
        ("https://github.com/acme/backend.git", False),
        ("https://ghp_abc@github.com/acme/backend.git", True),
        ("https://x-access-token:ghp_abc@github.com/acme/backend.git", True),
        ("http://user@git.internal/acme/backend.git", True),
        ("ssh://git@github.com/acme/backend.git", False),
        ("ssh://deploy:hunter2@git.internal/backend.git", True),
        ("git@github.com:acme/backend.git", False),
        ("repos/backend", False),
        ("/srv/git/backend", False),
        ("https://github.com/acme/back@end.git", False),  # an @ in the path, not userinfo
    ],
)
def test_repository_urls_with_a_credential_are_told_apart(repo: str, has_credential: bool) -> None:
    assert repo_credentials(repo) is has_credential


def test_a_repository_url_with_a_token_is_refused_naming_the_key() -> None:
    text = CONFIG.format(top="ok", service="", production="").replace(
        'repo = "r"', 'repo = "https://ghp_tok@github.com/acme/backend.git"', 1
    )

    with pytest.raises(ConfigError, match=r"services\.backend: .*repo: the URL carries a"):
        parse_config(text, base_dir=Path("/"))


def test_git_gets_the_allowlist_and_what_reaches_a_remote_never_the_bots_secrets() -> None:
    bot = {
        "PATH": "/usr/bin",
        "HOME": "/home/bot",
        "LC_ALL": "C",
        "SSH_AUTH_SOCK": "/run/agent.sock",
        "HTTPS_PROXY": "http://proxy:3128",
        "GIT_SSH_COMMAND": "ssh -i /k",
        "REDIS_URL": "redis://:pw@r/0",
        "DEPLOYBOT_SECRET": "hmac-key",
        "DEPLOYBOT_API_TOKEN": "api-token",
        "GITHUB_TOKEN": "ghp_x",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "COPY": "hmac-key",
        "EMPTY": "",
    }

    env = tool_env(bot, secrets=["hmac-key"])

    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/bot",
        "LC_ALL": "C",
        "SSH_AUTH_SOCK": "/run/agent.sock",
        "HTTPS_PROXY": "http://proxy:3128",
        "GIT_SSH_COMMAND": "ssh -i /k",
    }
