"""Settings from the environment (and a ``.env`` file), the contract's variable names."""

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_MODEL", "Settings"]

DEFAULT_MODEL = "claude-sonnet-5-5"


class Settings(BaseSettings):
    # env_ignore_empty: an empty variable (``SLACK_SIGNING_SECRET=`` copied from
    # .env.example) means "not set", for every variable, never "set to nothing".
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    deploybot_config: Path | None = None
    redis_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    anthropic_model: str = DEFAULT_MODEL
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_ssl: bool = True
    email_from: str | None = None
    # None: on whenever the email channel is configured (EMAIL_REQUIRE_DMARC=false opts out).
    email_require_dmarc: bool | None = None
    email_authserv_id: str | None = None
    email_max_bytes: int = 256 * 1024
    # Reply tokens and links; never shared with another system.
    deploybot_secret: SecretStr | None = None
    # Signs webhooks (what CI systems hold); separate so they cannot mint reply tokens.
    deploybot_webhook_secret: SecretStr | None = None
    deploybot_api_token: SecretStr | None = None
    port: int = 8000
    # Not in the public contract; for tests and tuning.
    deploybot_key_prefix: str = "deploybot"
    deploybot_lease_ttl_ms: int = 15_000
    deploybot_tags_cache_s: float = 10
    deploybot_log_level: str | None = None
    deploybot_log_format: str | None = None
    # At most this many model calls to handle one inbound message (then a person is told).
    deploybot_model_calls_per_message: int = 6

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
        ]
        return [v.get_secret_value() for v in values if v and v.get_secret_value()]
