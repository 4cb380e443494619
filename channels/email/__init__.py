"""The email channel: requests by email, decisions by replying, results in the same thread.

Inbound: ``MailListener`` (IMAP IDLE on the bot's mailbox) publishes to the inbound stream.
Outbound: ``EmailSender``, run by the outbox's ``email`` deliverer. ``email_channel`` builds
both from the settings, or says what is missing.
"""

from collections.abc import Callable
from datetime import datetime

from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.asyncio import Redis

from bot.config import Config
from bot.inbound import InboundQueue
from bot.keys import Keys
from bot.outbox import Outbox
from bot.settings import Settings
from channels.email.listener import ImapServer, MailListener
from channels.email.sender import EmailSender, SmtpServer
from channels.email.triage import MailRules

__all__ = ["EmailOptions", "EmailSender", "MailListener", "email_channel", "missing_settings"]


class EmailOptions(BaseSettings):
    """Email-only knobs (``EMAIL_REQUIRE_DMARC``, ``EMAIL_AUTHSERV_ID``, ``EMAIL_MAX_BYTES``).

    With ``EMAIL_REQUIRE_DMARC=true`` a message counts only when the Authentication-Results
    header added by our own receiving server (whose authserv-id is ``EMAIL_AUTHSERV_ID``)
    says ``dmarc=pass`` for the From domain.
    """

    model_config = SettingsConfigDict(env_prefix="EMAIL_", env_file=".env", extra="ignore")

    require_dmarc: bool = False
    authserv_id: str | None = None
    max_bytes: int = 256 * 1024


def missing_settings(settings: Settings) -> list[str]:
    wanted = {
        "REDIS_URL": settings.redis_url,
        "IMAP_HOST": settings.imap_host,
        "IMAP_USERNAME": settings.imap_username,
        "IMAP_PASSWORD": settings.imap_password,
        "SMTP_HOST": settings.smtp_host,
        "EMAIL_FROM": settings.email_from,
        "DEPLOYBOT_SECRET": settings.deploybot_secret,
    }
    return [name for name, value in wanted.items() if not value]


def email_channel(
    settings: Settings,
    *,
    config: Config,
    queue: InboundQueue,
    outbox: Outbox,
    redis: "Redis",
    keys: Keys,
    clock: Callable[[], datetime],
    options: EmailOptions | None = None,
) -> tuple[MailListener, EmailSender]:
    """The listener and the sender; call ``missing_settings`` first."""
    options = options or EmailOptions()
    if options.require_dmarc and not options.authserv_id:
        raise ValueError("EMAIL_REQUIRE_DMARC needs EMAIL_AUTHSERV_ID (our server's name)")
    missing = missing_settings(settings)
    imap_host, imap_user, imap_password = (
        settings.imap_host,
        settings.imap_username,
        settings.imap_password,
    )
    smtp_host, email_from, secret_str = (
        settings.smtp_host,
        settings.email_from,
        settings.deploybot_secret,
    )
    if not (imap_host and imap_user and imap_password and smtp_host and email_from and secret_str):
        raise ValueError(f"email needs {', '.join(missing)}")
    secret = secret_str.get_secret_value().encode()
    emails = {name: p.email for name, p in config.people.items() if p.email}
    rules = MailRules(
        bot_address=email_from,
        secret=secret,
        known_senders=frozenset(e.lower() for e in emails.values()),
        require_dmarc=options.require_dmarc,
        auth_serv_id=options.authserv_id,
    )
    listener = MailListener(
        imap=ImapServer(
            host=imap_host,
            port=settings.imap_port,
            username=imap_user,
            password=imap_password,
            ssl=settings.imap_ssl,
        ),
        queue=queue,
        outbox=outbox,
        redis=redis,
        keys=keys,
        rules=rules,
        clock=clock,
        max_bytes=options.max_bytes,
    )
    sender = EmailSender(
        smtp=SmtpServer(
            host=smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        ),
        from_address=email_from,
        secret=secret,
        emails=emails,
        redis=redis,
        keys=keys,
        clock=clock,
    )
    return listener, sender
