"""The email channel: requests by email, decisions by replying, results in the same thread.

Inbound: ``MailListener`` (IMAP IDLE on the bot's mailbox) publishes to the inbound stream.
Outbound: ``EmailSender``, run by the outbox's ``email`` deliverer. ``email_channel`` builds
both from the one ``Settings``, or says what is missing. With the channel configured, only
mail whose own receiving server (``EMAIL_AUTHSERV_ID``) reports ``dmarc=pass`` for the From
domain counts, unless ``EMAIL_REQUIRE_DMARC=false`` is set.
"""

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from bot.app.settings import Settings
from bot.core.config import Config
from bot.shell.inbound import InboundQueue
from bot.shell.keys import Keys
from bot.shell.outbox import Outbox
from channels.email.listener import ImapServer, MailListener
from channels.email.sender import EmailSender, SmtpServer
from channels.email.triage import MailRules

__all__ = [
    "EmailSender",
    "MailListener",
    "dmarc_required",
    "email_channel",
    "missing_settings",
    "settings_problems",
]


def dmarc_required(settings: Settings) -> bool:
    """DMARC is checked unless ``EMAIL_REQUIRE_DMARC=false`` was set explicitly."""
    return settings.email_require_dmarc is not False


def settings_problems(settings: Settings) -> list[str]:
    """What makes an otherwise configured email channel unsafe to start (empty: none)."""
    problems = []
    if dmarc_required(settings) and not (settings.email_authserv_id or "").strip():
        problems.append(
            "EMAIL_AUTHSERV_ID is required: the authserv-id our receiving server writes in "
            "Authentication-Results (or set EMAIL_REQUIRE_DMARC=false to trust From as is)"
        )
    token_key, webhook_key = settings.deploybot_secret, settings.deploybot_webhook_secret
    if token_key and webhook_key and token_key.get_secret_value() == webhook_key.get_secret_value():
        problems.append(
            "DEPLOYBOT_SECRET must differ from DEPLOYBOT_WEBHOOK_SECRET: whoever holds the "
            "webhook secret could otherwise mint reply tokens"
        )
    return problems


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
) -> tuple[MailListener, EmailSender]:
    """The listener and the sender; call ``missing_settings`` first.

    Raises ``ValueError`` naming what is missing or unsafe (see ``settings_problems``).
    """
    problems = settings_problems(settings)
    if problems:
        raise ValueError("; ".join(problems))
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
        require_dmarc=dmarc_required(settings),
        auth_serv_id=settings.email_authserv_id,
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
        max_bytes=settings.email_max_bytes,
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
