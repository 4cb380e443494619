"""The config file: valid examples load; each mistake names its key."""

from pathlib import Path, PurePath

import pytest

from bot.app.config_file import load_config
from bot.core.config.config import parse_config
from bot.core.errors import ConfigError
from bot.core.thread.text.actor import Actor

GOOD = """
[people.alice]
slack = "U0ALICE"
[people.bob]
email = "bob@example.com"
[services.backend]
repo = "repos/backend"
deploy = ["./scripts/deploy.sh", "{service}", "{version}", "{environment}"]
environments = ["staging", "production"]
[environments.staging]
[environments.production]
approval = true
approvers = ["alice", "bob"]
"""


def test_good_config_and_relative_paths() -> None:
    config = parse_config(GOOD, base_dir=Path("/etc/deploybot"))
    assert config.argv_path("./scripts/deploy.sh") == "/etc/deploybot/scripts/deploy.sh"
    assert config.argv_path("kubectl") == "kubectl"
    assert config.repo_location("backend") == "/etc/deploybot/repos/backend"
    assert config.environments["production"].approval_timeout_s == 3600
    assert config.environments["production"].self_approval is False
    assert config.person_for(Actor("email:BOB@example.com")) == "bob"
    assert config.person_for(Actor("slack:U0ALICE")) == "alice"
    assert config.person_for(Actor("slack:U0BOB")) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('environments = ["staging", "production"]', 'environments = ["staging", "prod"]'),
            "services.backend.environments[1]: unknown environment 'prod'",
        ),
        (
            ('approvers = ["alice", "bob"]', 'approvers = ["alice", "zed"]'),
            "environments.production.approvers[1]: 'zed' is not in [people]",
        ),
        (
            ('approvers = ["alice", "bob"]', "approvers = []"),
            "environments.production.approvers: approval = true needs approvers",
        ),
        (
            ("approval = true", "approval = true\nmin_approvals = 3"),
            "environments.production.min_approvals: 3 approvals needed but only 2 approvers",
        ),
        (
            ('repo = "repos/backend"', 'repo = "repos/backend"\ntimeout_s = -1'),
            "services.backend.timeout_s: Input should be greater than 0",
        ),
        (('"{environment}"]', '"{env}"]'), "services.backend: deploy: unknown placeholder {env}"),
        (("[people.bob]", '[people.bob]\nphone = "1"'), "people.bob.phone: Extra inputs"),
        (("[services.backend]", "[services.Back_End]"), "services.Back_End: names are lower-case"),
        (
            ("deploy = [", "deploy = 3\nx = ["),
            "services.backend: deploy: must be a command (a list of arguments",
        ),
        (("[environments.staging]", "[environments.staging"), "not valid TOML"),
    ],
)
def test_errors_name_the_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(GOOD.replace(*change), base_dir=Path("."), source="deploybot.toml")
    assert str(caught.value).startswith("deploybot.toml: ")
    assert message in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config .*nope\.toml: No such file"):
        load_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("base_dir", "arg", "path"),
    [
        ("/etc/deploybot", "./scripts/deploy.sh", "/etc/deploybot/scripts/deploy.sh"),
        ("/etc/deploybot", "../shared/deploy.sh", "/etc/shared/deploy.sh"),
        ("/etc/deploybot", "./a/./b/../deploy.sh", "/etc/deploybot/a/deploy.sh"),
        ("/", "../../deploy.sh", "/deploy.sh"),
        (".", "../deploy.sh", "../deploy.sh"),
    ],
)
def test_relative_paths_are_joined_by_name(base_dir: str, arg: str, path: str) -> None:
    """The core asks no disk: ``.`` and ``..`` are taken out by name."""
    assert parse_config(GOOD, base_dir=PurePath(base_dir)).argv_path(arg) == path


def test_the_file_is_read_by_the_wiring_relative_to_its_resolved_folder(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "deploybot.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "link").symlink_to(real)
    config = load_config(tmp_path / "link" / "deploybot.toml")
    folder = real.resolve()
    assert config.argv_path("./scripts/deploy.sh") == str(folder / "scripts" / "deploy.sh")
    assert config.repo_location("backend") == str(folder / "repos" / "backend")


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('cron = "61 * * * *"', "schedules[0]: Value error, cron: '61 * * * *' is not a cron"),
        ('cron = "0 9 * * *"\ntimezone = "Mars/Olympus"', "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_schedule_errors_name_the_key(schedule: str, message: str) -> None:
    text = (
        GOOD
        + f'\n[[schedules]]\nname = "n"\ninstruction = "deploy backend to staging"\n{schedule}\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, base_dir=Path("."), source="deploybot.toml")
    assert message.split("Value error, ")[-1] in str(caught.value)
    assert "schedules[0]" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('[people.bob]\nemail = "bob@example.com"', '[people.bob]\nslack = "U0ALICE"'),
            "people.bob.slack: U0ALICE is already alice's",
        ),
        (
            ('email = "bob@example.com"', 'email = "Alice@Example.COM"'),
            "people.bob.email: Alice@Example.COM is already alice's",
        ),
    ],
)
def test_one_identity_is_one_person(change: tuple[str, str], message: str) -> None:
    """Two people with one Slack id or email: a message from it would count as whichever
    the lookup found first, so an approval could be taken for the wrong person's."""
    text = GOOD.replace('slack = "U0ALICE"', 'slack = "U0ALICE"\nemail = "alice@example.com"')
    parse_config(text, base_dir=Path("."))  # distinct identities load
    with pytest.raises(ConfigError) as caught:
        parse_config(text.replace(*change), base_dir=Path("."), source="deploybot.toml")
    assert str(caught.value) == f"deploybot.toml: {message}"


@pytest.mark.parametrize(
    ("pass_env", "refused"),
    [
        ('["REDIS_URL"]', "pass_env: REDIS_URL is deploybot's own"),
        (
            '["KUBECONFIG", "SLACK_BOT_TOKEN", "DEPLOYBOT_SECRET"]',
            "SLACK_BOT_TOKEN, DEPLOYBOT_SECRET are",
        ),
        ('["not a name"]', "pass_env[0]: String should match pattern"),
    ],
)
def test_pass_env_never_names_the_bots_own_variables(pass_env: str, refused: str) -> None:
    text = f"""
[services.backend]
repo = "r"
deploy = ["./d"]
environments = ["staging"]
pass_env = {pass_env}
[environments.staging]
"""
    with pytest.raises(ConfigError, match=r"services\.backend") as raised:
        parse_config(text, base_dir=Path("/srv"))
    assert refused in str(raised.value)
