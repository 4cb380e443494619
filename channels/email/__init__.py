"""The email channel: requests by email, decisions by replying, results in the same thread.

Inbound: ``MailListener`` (IMAP IDLE on the bot's mailbox) publishes to the inbound stream.
Outbound: ``EmailSender``, run by the outbox's ``email`` deliverer. ``build_email`` makes
both from explicit arguments (the wiring, ``bot.app.channels``, reads the settings). With
``require_dmarc`` only mail whose own receiving servers (``authserv_ids``, e.g. two MX
hosts) report ``dmarc=pass`` for the From domain counts; the rest is recorded for the audit
(``ports.refusals``) and, with ``notice_interval_s``, its person told (rate-limited).
"""

from collections.abc import Callable
from datetime import datetime

from bot.core.config.config import Config
from bot.core.ports.channel_ports import ChannelPorts
from channels.email.listener import ImapServer, MailListener
from channels.email.sender import EmailSender, SmtpServer
from channels.email.triage import MailRules

__all__ = ["EmailSender", "MailListener", "build_email"]


def build_email(
    *,
    imap: ImapServer,
    smtp: SmtpServer,
    from_address: str,
    secret: bytes,
    require_dmarc: bool,
    authserv_ids: tuple[str, ...],
    max_bytes: int,
    notice_interval_s: float = 0,
    config: Config,
    ports: ChannelPorts,
    clock: Callable[[], datetime],
) -> tuple[MailListener, EmailSender]:
    """The listener and the sender. ``ValueError`` when DMARC is required without our
    receiving server's authserv-id (nothing could ever pass)."""
    if require_dmarc and not any(i.strip() for i in authserv_ids):
        raise ValueError("EMAIL_AUTHSERV_ID is required when DMARC is required")
    emails = {name: p.email for name, p in config.people.items() if p.email}
    rules = MailRules(
        bot_address=from_address,
        secret=secret,
        known_senders=frozenset(e.lower() for e in emails.values()),
        require_dmarc=require_dmarc,
        authserv_ids=authserv_ids,
        names={e.lower(): name for name, e in emails.items()},
    )
    listener = MailListener(
        imap=imap,
        ports=ports,
        rules=rules,
        clock=clock,
        max_bytes=max_bytes,
        notice_interval_s=notice_interval_s,
    )
    sender = EmailSender(
        smtp=smtp,
        from_address=from_address,
        secret=secret,
        emails=emails,
        state=ports.mail,
        clock=clock,
    )
    return listener, sender
