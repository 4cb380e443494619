"""Outbound emails, built from an outbound message. Pure.

Every mail is a threaded reply to the request (In-Reply-To, References, "Re:" subject) with
its own stable Message-ID derived from the thread and message ids, so a retried send carries
the same id. ``Auto-Submitted: auto-generated`` keeps other robots from answering. Approval
requests go to each approver with an email address, each with a personal reply token.

Text is written for the medium: the Subject is one line (``bot.core.thread.text.outside.inert``: no
CR
or LF can start another header, no control or bidi character), the text part has nothing a
reader would act on, and the HTML part is that text HTML-escaped.
"""

import hashlib
import html
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import BaseModel, ConfigDict

from bot.core.config.route import email_addresses
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.origin import EmailOrigin, delivery_route
from bot.core.thread.text.outside import clean, inert
from channels.email.token import sign_token
from channels.email.triage import own_message_id

__all__ = ["Letter", "letters_for"]

DECIDE_HOWTO = (
    "To decide, reply to this email with '{approve}' or '{reject} <reason>' on the first line.\n"
    "The reply address is personal to you ({address}) and works until {expires} UTC."
)


class Letter(BaseModel):
    """One email to one recipient; ``key`` names it among the copies of one message."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: str
    recipient: str
    message: EmailMessage


class _Conversation(BaseModel):
    """Who a thread's emails go to, under which subject, threaded on which Message-IDs."""

    model_config = ConfigDict(frozen=True)

    recipients: list[str]
    subject: str
    references: list[str]
    tokens_for: frozenset[str] | None = None  # None: every approver with an address


def _conversation(message: OutboundMessage, *, domain: str) -> _Conversation | None:
    """Replies to an email request continue its thread; messages routed to addresses (a
    schedule's ``report_to``, an approval channel) form one thread per bot thread, rooted
    on a stable id so mail clients group them."""
    origin, route = message.origin, delivery_route(message.origin, message.route)
    if route is None:
        if not isinstance(origin, EmailOrigin):
            return None
        subject = origin.subject.strip() or "deploybot"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        return _Conversation(
            recipients=[origin.address], subject=subject, references=origin.message_ids
        )
    addresses = email_addresses(route)
    if not addresses:
        return None
    return _Conversation(
        recipients=addresses,
        subject=f"[deploybot] {message.topic or message.thread_id}",
        references=[own_message_id(message.thread_id, "thread", domain)],
        # An approval channel asks the addresses it names; a report_to asks every approver.
        tokens_for=frozenset(addresses) if message.route is not None else None,
    )


def _letter(
    message: OutboundMessage,
    *,
    conversation: _Conversation,
    sender: str,
    recipient: str,
    text: str,
    now: datetime,
    variant: str = "",
    reply_to: str | None = None,
) -> Letter:
    domain = sender.rpartition("@")[2]
    mail = EmailMessage()
    mail["From"] = f"deploybot <{sender}>"
    mail["To"] = recipient
    mail["Subject"] = clean(conversation.subject, kind="subject") or "deploybot"
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = own_message_id(
        message.thread_id, message.message_id, domain, variant=variant
    )
    if conversation.references:
        mail["In-Reply-To"] = conversation.references[-1]
        mail["References"] = " ".join(conversation.references[-20:])
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Deploybot-Thread"] = message.thread_id
    text = inert(text, multiline=True)
    mail.set_content(text + "\n")
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
    )
    mail.add_alternative(f"<html><body>{paragraphs}</body></html>\n", subtype="html")
    return Letter(key=variant or "origin", recipient=recipient, message=mail)


def _variant(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:8]


def letters_for(
    message: OutboundMessage,
    *,
    sender: str,
    secret: bytes,
    emails: Mapping[str, str],
    now: datetime,
) -> list[Letter]:
    """The emails one outbound message becomes (none for a running deploy's progress).

    ``emails`` maps [people] names to addresses: approval requests go to every approver
    listed there (on an approval channel: those it names), each with a Reply-To carrying a
    token only their address can use. A message that closes a request (a decision, an
    expiry) goes to everyone who was asked, so nobody answers a question already settled.
    """
    local, _at, domain = sender.partition("@")
    conversation = _conversation(message, domain=domain)
    if conversation is None:
        return []
    if message.purpose == "progress" and message.card is None:
        return []  # a running deploy's updates; one that closes a request is news
    to: str | None = None
    if message.to is not None:
        if message.to.channel != "email":
            return []  # meant for someone on another channel (the API answers them itself)
        to = message.to.id
    recipients = [to.lower()] if to else [a.lower() for a in conversation.recipients]
    card = message.card
    asked: list[str] = []
    if card is not None and to is None:
        asked = [emails[name].lower() for name in card.approvers if name in emails]
        if conversation.tokens_for is not None:
            asked = [a for a in asked if a in conversation.tokens_for]
    letters: list[Letter] = []
    if card is not None and message.purpose == "approval_request":
        for address in asked:
            token = sign_token(
                secret=secret,
                thread_id=message.thread_id,
                plan_hash=card.plan_hash,
                address=address,
                expires_at=card.expires_at,
            )
            howto = DECIDE_HOWTO.format(
                approve=card.approve_with,
                reject=card.reject_with,
                address=address,
                expires=card.expires_at.strftime("%Y-%m-%d %H:%M"),
            )
            letters.append(
                _letter(
                    message,
                    conversation=conversation,
                    sender=sender,
                    recipient=address,
                    text=f"{message.text}\n\n{howto}",
                    now=now,
                    variant=_variant(address),
                    reply_to=f"{local}+{token}@{domain}",
                )
            )
        recipients = [r for r in recipients if r not in asked]
    else:
        recipients = list(dict.fromkeys([*recipients, *asked]))
    for i, recipient in enumerate(recipients):
        letters.append(
            _letter(
                message,
                conversation=conversation,
                sender=sender,
                recipient=recipient,
                text=message.text,
                now=now,
                variant="" if i == 0 else _variant(recipient),
            )
        )
    return letters
