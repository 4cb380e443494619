"""Settings: empty means unset for every variable; a bad value is one line naming it;
the start-up rules (preflight) as tables."""

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.app.bootstrap import build_agents
from bot.app.findings.check import check_config
from bot.app.findings.preflight import SERVICES, findings, refusal
from bot.app.settings import DEFAULT_ANTHROPIC_URL, Settings, load_settings
from bot.core.config.config import parse_config
from bot.core.errors import ConfigError

VARIABLES = sorted(name.upper() for name in Settings.model_fields)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No inherited variable and no .env file: each test sets what it means."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_contract_is_covered() -> None:
    """Every variable of DESIGN.md §4 is a setting, so every one gets the same checks."""
    contract = {
        "DEPLOYBOT_CONFIG", "REDIS_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
        "ANTHROPIC_MODEL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
        "SLACK_API_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD",
        "SMTP_STARTTLS", "IMAP_HOST", "IMAP_PORT", "IMAP_USERNAME", "IMAP_PASSWORD",
        "IMAP_SSL", "EMAIL_FROM", "EMAIL_REQUIRE_DMARC", "EMAIL_AUTHSERV_ID",
        "DEPLOYBOT_SECRET", "DEPLOYBOT_WEBHOOK_SECRET", "DEPLOYBOT_API_TOKEN", "PORT",
        "GITHUB_TOKEN", "GITHUB_APP_ID", "GITHUB_APP_PRIVATE_KEY",
        "GITHUB_APP_INSTALLATION_ID", "GITHUB_API_URL",
    }  # fmt: skip
    assert contract - set(VARIABLES) == set()


@pytest.mark.parametrize("name", VARIABLES)
@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_empty_or_blank_means_unset(monkeypatch: pytest.MonkeyPatch, name: str, empty: str) -> None:
    unset = load_settings()
    monkeypatch.setenv(name, empty)
    assert load_settings() == unset


def test_empty_variables_in_a_dot_env_file_mean_unset(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SMTP_USERNAME=\nPORT=\nDEPLOYBOT_KEY_PREFIX=\nSMTP_HOST=mx\n")
    settings = load_settings()
    assert settings.smtp_username is None  # the sender then skips SMTP AUTH
    assert (settings.port, settings.deploybot_key_prefix, settings.smtp_host) == (
        8000,
        "deploybot",
        "mx",
    )


BAD = [
    ("PORT", "abc", "PORT='abc': expected a port number from 1 to 65535"),
    ("PORT", "0", "PORT='0': expected a port number from 1 to 65535"),
    ("SMTP_PORT", "65536", "SMTP_PORT='65536': expected a port number"),
    ("IMAP_PORT", "99.5", "IMAP_PORT='99.5': expected a port number"),
    ("SMTP_STARTTLS", "maybe", "SMTP_STARTTLS='maybe': expected true or false"),
    ("IMAP_SSL", "2", "IMAP_SSL='2': expected true or false"),
    ("EMAIL_REQUIRE_DMARC", "sometimes", "EMAIL_REQUIRE_DMARC='sometimes': expected true or"),
    ("DEPLOYBOT_LOG_LEVEL", "LOUD", "DEPLOYBOT_LOG_LEVEL='LOUD': expected one of DEBUG, INFO"),
    ("DEPLOYBOT_LOG_FORMAT", "xml", "DEPLOYBOT_LOG_FORMAT='xml': expected one of json, text"),
    ("DEPLOYBOT_KEY_PREFIX", "my bot", "DEPLOYBOT_KEY_PREFIX='my bot': expected 1-64 letters"),
    ("DEPLOYBOT_KEY_PREFIX", "{bot}", "DEPLOYBOT_KEY_PREFIX='{bot}': expected 1-64 letters"),
    ("DEPLOYBOT_KEY_PREFIX", "bot*", "DEPLOYBOT_KEY_PREFIX='bot*': expected 1-64 letters"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL: expected a URL such as redis://"),
    ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL: expected a URL such as redis://"),
    ("ANTHROPIC_BASE_URL", "claude-proxy.internal", "ANTHROPIC_BASE_URL: expected a URL such as"),
    ("SLACK_API_URL", "https://", "SLACK_API_URL: expected a URL such as"),
    ("GITHUB_API_URL", "ftp://github.example.com", "GITHUB_API_URL: expected a URL such as"),
    ("GITHUB_APP_ID", "acme", "GITHUB_APP_ID='acme': expected a whole number"),
    ("SMTP_HOST", "smtp://mail.example.com", "SMTP_HOST: expected a host name or IP address"),
    ("IMAP_HOST", "mail.example.com:993", "IMAP_HOST: expected a host name or IP address"),
    ("EMAIL_FROM", "deploybot", "EMAIL_FROM: expected an email address"),
    ("EMAIL_AUTHSERV_ID", "mx; dmarc=pass", "EMAIL_AUTHSERV_ID: expected one word"),
    ("EMAIL_AUTHSERV_ID", "mx1,,mx2", "EMAIL_AUTHSERV_ID: expected one word, or several"),
    ("EMAIL_AUTHSERV_ID", "mx1 mx2", "EMAIL_AUTHSERV_ID: expected one word, or several"),
    ("EMAIL_AUTHSERV_ID", "mx1,", "EMAIL_AUTHSERV_ID: expected one word, or several"),
    ("EMAIL_REFUSAL_NOTICE_S", "hourly", "EMAIL_REFUSAL_NOTICE_S='hourly': expected a number of"),
    ("EMAIL_MAX_BYTES", "-1", "EMAIL_MAX_BYTES='-1': expected a whole number of at least 1024"),
    ("ANTHROPIC_MODEL", "claude sonnet", "ANTHROPIC_MODEL: expected one word"),
    ("DEPLOYBOT_LEASE_TTL_MS", "5", "DEPLOYBOT_LEASE_TTL_MS='5': expected a whole number of"),
    ("DEPLOYBOT_TAGS_CACHE_S", "nan", "DEPLOYBOT_TAGS_CACHE_S='nan': expected a number of sec"),
    ("DEPLOYBOT_MODEL_CALLS_PER_MESSAGE", "0", "DEPLOYBOT_MODEL_CALLS_PER_MESSAGE='0': expected"),
]


@pytest.mark.parametrize(("name", "value", "line"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"bad environment: {line}")
    assert "\n" not in message
    assert "validation error" not in message
    assert "pydantic" not in message


def test_several_bad_values_are_all_named_and_secrets_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@bad host:6379")
    monkeypatch.setenv("SLACK_API_URL", "xoxb-not-a-url")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "PORT='abc'" in message
    assert "REDIS_URL:" in message
    assert "SLACK_API_URL:" in message
    assert "hunter2" not in message
    assert "xoxb" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DEPLOYBOT_LOG_LEVEL": "debug"}, ("DEBUG", "DEBUG")),
        ({}, ("INFO", "WARNING")),
        ({"DEPLOYBOT_LOG_LEVEL": ""}, ("INFO", "WARNING")),
    ],
)
def test_log_level_comes_from_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: tuple[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.log_level(service=True), settings.log_level(service=False)) == expected


def test_an_empty_anthropic_base_url_keeps_the_sdk_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The SDK reads ANTHROPIC_BASE_URL itself when given None; "" would replace its default
    and break every model call. The client is always given a URL."""
    import anthropic

    monkeypatch.setenv("ANTHROPIC_BASE_URL", "")
    made: list[dict[str, Any]] = []

    class Recording(anthropic.AsyncAnthropic):
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(anthropic, "AsyncAnthropic", Recording)
    settings = load_settings(anthropic_api_key="test-key")
    config = parse_config(CONFIG, base_dir=Path("."))
    _, model_enabled = build_agents(settings, config, clock=lambda: None)  # type: ignore[arg-type,return-value]
    assert model_enabled
    [kwargs] = made
    assert kwargs["base_url"] == DEFAULT_ANTHROPIC_URL


# -- the start-up rules --------------------------------------------------------------------

CONFIG = """
[people.alice]
email = "alice@example.com"
[services.backend]
repo = "r"
deploy = ["./deploy.sh"]
environments = ["staging"]
[environments.staging]
"""
HOOKS = CONFIG + '[webhooks.ci]\ninstruction = "deploy backend {version} to staging"\n'
WORKFLOW = CONFIG.replace(
    'deploy = ["./deploy.sh"]\n',
    'deploy = { github_workflow = "acme/backend/.github/workflows/deploy.yml" }\n',
)


def _settings(**values: Any) -> Settings:
    secrets = {"slack_bot_token", "slack_signing_secret", "slack_app_token", "smtp_password"}
    secrets |= {"deploybot_secret", "deploybot_webhook_secret", "github_token"}
    return Settings.model_validate(
        {k: SecretStr(v) if k in secrets else v for k, v in values.items()}
    )


EMAIL = {"smtp_host": "mx.example.com", "imap_host": "mx.example.com"}
RULES: list[tuple[str, dict[str, Any], str, str | None, list[str]]] = [
    # (case, settings, config, finding text starts with (None: no finding), refused commands)
    ("nothing set", {}, CONFIG, None, []),
    ("slack over http without secret", {"slack_bot_token": "t"}, CONFIG,
     "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not", ["run", "web"]),
    ("slack over http with secret", {"slack_bot_token": "t", "slack_signing_secret": "s"},
     CONFIG, None, []),
    ("slack socket mode", {"slack_bot_token": "t", "slack_app_token": "a"}, CONFIG, None, []),
    ("secrets shared", {"deploybot_secret": "same", "deploybot_webhook_secret": "same"},
     CONFIG, "DEPLOYBOT_WEBHOOK_SECRET equals DEPLOYBOT_SECRET", sorted(SERVICES)),
    ("secrets separate", {"deploybot_secret": "a", "deploybot_webhook_secret": "b"},
     HOOKS, None, []),
    ("webhooks without their secret", {"deploybot_secret": "a"}, HOOKS,
     "webhooks (ci) are configured but DEPLOYBOT_WEBHOOK_SECRET is not set", []),
    ("email, dmarc by default, no authserv-id", EMAIL, CONFIG,
     "EMAIL_AUTHSERV_ID is required with email", ["mail", "run"]),
    ("smtp only counts as email", {"smtp_host": "mx"}, CONFIG,
     "EMAIL_AUTHSERV_ID is required with email", ["mail", "run"]),
    ("email with authserv-id", {**EMAIL, "email_authserv_id": "mx.example.com"}, CONFIG,
     None, []),
    ("email, dmarc opted out", {**EMAIL, "email_require_dmarc": False}, CONFIG,
     "EMAIL_REQUIRE_DMARC=false: emailed requests and approvals are trusted", []),
    ("smtp password without user", {**EMAIL, "email_authserv_id": "mx", "smtp_password": "p"},
     CONFIG, "SMTP_PASSWORD is set but SMTP_USERNAME is not", ["mail", "run"]),
    ("smtp user without password", {**EMAIL, "email_authserv_id": "mx", "smtp_username": "u"},
     CONFIG, "SMTP_USERNAME is set but SMTP_PASSWORD is not", ["mail", "run"]),
    ("a workflow without github credentials", {}, WORKFLOW,
     "services backend deploy through a GitHub workflow, but neither GITHUB_TOKEN", []),
    ("a workflow with a token", {"github_token": "ghp_x"}, WORKFLOW, None, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("settings", "config", "starts", "refused"),
    [r[1:] for r in RULES],
    ids=[r[0] for r in RULES],
)
def test_start_up_rules(
    settings: dict[str, Any], config: str, starts: str | None, refused: list[str]
) -> None:
    found = findings(_settings(**settings), parse_config(config, base_dir=Path(".")))
    assert [f.text[: len(starts or "")] for f in found] == ([starts] if starts else [])
    commands = ["chat", "check-config", *sorted(SERVICES)]
    assert [c for c in commands if refusal(found, c)] == refused


@pytest.mark.parametrize(
    ("require", "email", "required"),
    [(None, True, True), (None, False, False), (True, True, True), (False, True, False)],
)
def test_dmarc_required_is_one_rule(require: bool | None, email: bool, required: bool) -> None:
    values: dict[str, Any] = {"email_require_dmarc": require}
    settings = _settings(**(values | (EMAIL if email else {})))
    assert settings.dmarc_required is required


def test_env_example_names_every_variable_with_valid_examples(tmp_path: Path) -> None:
    """.env.example lists every setting; with every example line uncommented it loads."""
    example = Path(__file__).parents[3] / ".env.example"
    lines = [m.group(1) for m in re.finditer(r"(?m)^# ([A-Z_]+=.*)$", example.read_text())]
    assert sorted(line.split("=", 1)[0] for line in lines) == VARIABLES
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    settings = load_settings()
    assert settings.email_authserv_ids == ("mx1.example.com", "mx2.example.com")
    assert settings.dmarc_required


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("mx.example.com", ("mx.example.com",)),
        ("mx1.example.com,mx2.example.com", ("mx1.example.com", "mx2.example.com")),
        (" mx1.example.com , mx2.example.com ", ("mx1.example.com", "mx2.example.com")),
        ("mx1,mx1", ("mx1",)),
    ],
)
def test_email_authserv_id_takes_several_ids(value: str, ids: tuple[str, ...]) -> None:
    assert load_settings(_env_file=None, email_authserv_id=value).email_authserv_ids == ids
    assert load_settings(_env_file=None).email_authserv_ids == ()


def _minimal_config(folder: Path) -> Path:
    path = folder / "deploybot.toml"
    path.write_text(
        '[people.alice]\nemail = "alice@example.com"\n'
        '[services.backend]\nrepo = "https://git.example.com/backend.git"\n'
        'deploy = ["/bin/true"]\nenvironments = ["staging"]\n'
        "[environments.staging]\napproval = false\n"
    )
    return path


def test_check_config_shows_the_authserv_ids_it_trusts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(
        _env_file=None,
        deploybot_config=str(_minimal_config(tmp_path)),
        imap_host="imap.example.com",
        email_authserv_id="mx1.example.com, mx2.example.com",
        email_refusal_notice_s="3600",
    )
    check_config(settings)
    out = capsys.readouterr().out
    assert "authserv-ids mx1.example.com, mx2.example.com;" in out
    assert "told to its person at most every 3600 s (EMAIL_REFUSAL_NOTICE_S)" in out
