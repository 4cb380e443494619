"""Settings from the environment (and a ``.env`` file), the contract's variable names.

Every variable is checked here (with the value types of ``bot.app.setting_types``), so
every command refuses a bad value the same way: ``load_settings`` raises a ``ConfigError``
of one line naming the variable and what it expects, never a traceback or a pydantic dump.
An empty or blank value means unset, for every variable (``SMTP_USERNAME=`` copied from
.env.example is no username, not "").
"""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from bot.app.setting_types import (
    Address,
    AuthservIds,
    Flag,
    Format,
    Host,
    HttpUrl,
    KeyPrefix,
    Level,
    LogFormat,
    LogLevel,
    Port,
    PositiveSeconds,
    RedisUrl,
    Seconds,
    Word,
    whole,
)
from bot.core.errors import ConfigError

__all__ = [
    "DEFAULT_ANTHROPIC_URL",
    "DEFAULT_MODEL",
    "LogFormat",
    "LogLevel",
    "Settings",
    "SlackMode",
    "describe",
    "load_settings",
]

DEFAULT_MODEL = "claude-sonnet-5-5"
# Passed to the SDK explicitly: left to itself it reads ANTHROPIC_BASE_URL from the process
# environment, where an empty value would replace its default with "".
DEFAULT_ANTHROPIC_URL = "https://api.anthropic.com"

SlackMode = Literal["off", "http", "socket"]


class Settings(BaseSettings):
    # env_ignore_empty: an empty variable (``SLACK_SIGNING_SECRET=`` copied from
    # .env.example) means "not set", for every variable, never "set to nothing".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    deploybot_config: Path | None = None
    redis_url: RedisUrl | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: HttpUrl = DEFAULT_ANTHROPIC_URL
    anthropic_model: Word = DEFAULT_MODEL
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: HttpUrl | None = None
    smtp_host: Host | None = None
    smtp_port: Port = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: Flag = True
    imap_host: Host | None = None
    imap_port: Port = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_ssl: Flag = True
    email_from: Address | None = None
    # None: on whenever the email channel is configured (EMAIL_REQUIRE_DMARC=false opts out).
    email_require_dmarc: Flag | None = None
    # Our receiving servers' authserv-ids (two MX hosts: "mx1.example.com,mx2.example.com").
    email_authserv_id: AuthservIds | None = None
    email_max_bytes: Annotated[int, whole(1024)] = 256 * 1024
    # Tell the person a refused email claimed to be (at their [people] address), at most
    # once per this many seconds; unset or 0: never.
    email_refusal_notice_s: Seconds = 0
    # Reply tokens and links; never shared with another system.
    deploybot_secret: SecretStr | None = None
    # Signs webhooks (what CI systems hold); separate so they cannot mint reply tokens.
    deploybot_webhook_secret: SecretStr | None = None
    deploybot_api_token: SecretStr | None = None
    port: Port = 8000
    github_token: SecretStr | None = None
    github_app_id: Annotated[int, whole(1)] | None = None
    github_app_private_key: SecretStr | None = None
    github_app_installation_id: Annotated[int, whole(1)] | None = None
    github_api_url: HttpUrl | None = None
    # Not in the public contract; for tests and tuning.
    deploybot_key_prefix: KeyPrefix = "deploybot"
    deploybot_lease_ttl_ms: Annotated[int, whole(20)] = 15_000
    # A deploy's lock on its service and environment: its lease (renewed every third) and
    # how long a second deploy waits for it before saying who holds it.
    deploybot_lock_ttl_ms: Annotated[int, whole(300)] = 30_000
    deploybot_lock_wait_s: Seconds = 300
    # A deploy runs only once its start (and idempotency claim) reached this many Redis
    # replicas (WAIT), so a failover cannot run it twice; 0: do not wait.
    deploybot_redis_replicas: Annotated[int, whole(0)] = 0
    deploybot_redis_wait_ms: Annotated[int, whole(1)] = 1000
    # How often a GitHub workflow run is polled while deploybot follows it; how long after a
    # dispatch its run may take to be listed (none by then: an unknown outcome, held for a
    # person); how long a cancelled run may take until GitHub reports it completed.
    deploybot_github_poll_s: PositiveSeconds = 5
    deploybot_github_find_s: PositiveSeconds = 120
    deploybot_github_cancel_wait_s: PositiveSeconds = 300
    # How often a verification's checks run after a deploy (a check fails the verification
    # after failing two rounds in a row).
    deploybot_verify_interval_s: Seconds = 15
    deploybot_tags_cache_s: Seconds = 10
    deploybot_log_level: Level | None = None
    deploybot_log_format: Format | None = None
    # At most this many model calls to handle one inbound message (then a person is told).
    deploybot_model_calls_per_message: Annotated[int, whole(1)] = 6
    # Deploy commands run as root when deploybot does (instead of as run_as / nobody): code
    # being deployed could then read every secret of the bot. Warned about at every start.
    deploybot_run_commands_as_root: Flag = False

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """``"  "`` is as unset as ``""`` (env_ignore_empty only drops exactly "")."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    def secrets(self) -> list[str]:
        """Every secret value, so it can be redacted wherever text leaves the process."""
        values = [
            self.anthropic_api_key,
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.smtp_password,
            self.imap_password,
            self.deploybot_secret,
            self.deploybot_webhook_secret,
            self.deploybot_api_token,
            self.github_token,
            self.github_app_private_key,
        ]
        return [v.get_secret_value() for v in values if v and v.get_secret_value()]

    # -- rules other modules ask about (one place each) -----------------------------------

    @property
    def email_configured(self) -> bool:
        """The email channel is meant to run: an IMAP or SMTP server is set."""
        return bool(self.imap_host or self.smtp_host)

    @property
    def email_authserv_ids(self) -> tuple[str, ...]:
        """EMAIL_AUTHSERV_ID's ids, in order (empty when unset)."""
        return tuple((self.email_authserv_id or "").split(",")) if self.email_authserv_id else ()

    @property
    def dmarc_required(self) -> bool:
        """Count an emailed message only with our own server's ``dmarc=pass``: on whenever
        email is configured, unless ``EMAIL_REQUIRE_DMARC=false`` opts out (warned about)."""
        if self.email_require_dmarc is None:
            return self.email_configured
        return self.email_require_dmarc

    @property
    def slack_mode(self) -> SlackMode:
        """How Slack's events arrive: not at all (no bot token), over HTTP at /slack/events
        (verified with SLACK_SIGNING_SECRET), or over Socket Mode (SLACK_APP_TOKEN)."""
        if self.slack_bot_token is None:
            return "off"
        return "socket" if self.slack_app_token is not None else "http"

    def log_level(self, *, service: bool) -> LogLevel:
        """DEPLOYBOT_LOG_LEVEL, else INFO for services and WARNING for interactive commands."""
        return self.deploybot_log_level or ("INFO" if service else "WARNING")

    def log_format(self, *, service: bool) -> LogFormat:
        """DEPLOYBOT_LOG_FORMAT, else JSON lines for services and text for the rest."""
        return self.deploybot_log_format or ("json" if service else "text")


# Values that may be shown back in an error (never secrets, URLs or user names).
_SHOWN = {
    "smtp_port",
    "imap_port",
    "port",
    "smtp_starttls",
    "imap_ssl",
    "email_require_dmarc",
    "email_max_bytes",
    "email_refusal_notice_s",
    "github_app_id",
    "github_app_installation_id",
    "deploybot_key_prefix",
    "deploybot_lease_ttl_ms",
    "deploybot_tags_cache_s",
    "deploybot_github_poll_s",
    "deploybot_github_find_s",
    "deploybot_github_cancel_wait_s",
    "deploybot_log_level",
    "deploybot_log_format",
    "deploybot_model_calls_per_message",
    "deploybot_run_commands_as_root",
}


def describe(exc: ValidationError) -> str:
    """One line: each bad variable, what it was (when safe to show) and what is expected."""
    seen: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        name = field.upper() or "environment"
        if name in seen:
            continue
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] != "value_error":
            message = f"not valid ({message[:1].lower()}{message[1:]})"
        value = err.get("input")
        shown = f"={value!r:.40}" if field in _SHOWN and isinstance(value, str) else ""
        seen[name] = f"{name}{shown}: {message}"
    return "; ".join(seen.values())


def load_settings(**values: Any) -> Settings:
    """The settings from the environment (and ``.env``); ``values`` override them (tests).

    Raises ``ConfigError`` with one line naming each bad variable.
    """
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(f"bad environment: {describe(exc)}") from None
    except SettingsError as exc:
        raise ConfigError(f"bad environment: {exc}") from None
