"""Outbound emails, built from an outbound message. Pure.

Every mail is a threaded reply to the request (In-Reply-To, References, "Re:" subject) with
its own stable Message-ID derived from the thread and message ids, so a retried send carries
the same id. ``Auto-Submitted: auto-generated`` keeps other robots from answering. Approval
requests go to each approver with an email address, each with a personal reply token.
"""

import hashlib
import html
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from pydantic import BaseModel, ConfigDict

from bot.channel import OutboundMessage
from bot.origin import EmailOrigin
from channels.email.token import sign_token
from channels.email.triage import own_message_id

__all__ = ["Letter", "letters_for"]

DECIDE_HOWTO = (
    "To decide, reply to this email with 'approve' or 'reject <reason>' on the first line.\n"
    "The reply address is personal to you ({address}) and works until {expires} UTC."
)


class Letter(BaseModel):
    """One email to one recipient; ``key`` names it among the copies of one message."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: str
    recipient: str
    message: EmailMessage


def _subject(origin: EmailOrigin) -> str:
    subject = origin.subject.strip() or "deploybot"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _letter(
    message: OutboundMessage,
    *,
    origin: EmailOrigin,
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
    mail["Subject"] = _subject(origin)
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = own_message_id(
        message.thread_id, message.message_id, domain, variant=variant
    )
    if origin.message_ids:
        mail["In-Reply-To"] = origin.message_ids[-1]
        mail["References"] = " ".join(origin.message_ids[-20:])
    if reply_to:
        mail["Reply-To"] = reply_to
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Deploybot-Thread"] = message.thread_id
    mail.set_content(text + "\n")
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")
    )
    mail.add_alternative(f"<html><body>{paragraphs}</body></html>\n", subtype="html")
    return Letter(key=variant or "origin", recipient=recipient, message=mail)


def letters_for(
    message: OutboundMessage,
    *,
    sender: str,
    secret: bytes,
    emails: Mapping[str, str],
    now: datetime,
) -> list[Letter]:
    """The emails one outbound message becomes (none for transient progress updates).

    ``emails`` maps [people] names to addresses: approval requests go to every approver
    listed there, each with a Reply-To carrying a token only their address can use.
    """
    origin = message.origin
    if not isinstance(origin, EmailOrigin) or message.purpose == "progress":
        return []
    to = message.to[len("email:") :] if message.to and message.to.startswith("email:") else None
    main = to or origin.address
    letters: list[Letter] = []
    approvers: dict[str, str] = {}
    card = message.card
    if card is not None:
        approvers = {emails[name].lower(): name for name in card.approvers if name in emails}
        local, _at, domain = sender.partition("@")
        for address in approvers:
            token = sign_token(
                secret=secret,
                thread_id=message.thread_id,
                plan_hash=card.plan_hash,
                address=address,
                expires_at=card.expires_at,
            )
            howto = DECIDE_HOWTO.format(
                address=address, expires=card.expires_at.strftime("%Y-%m-%d %H:%M")
            )
            letters.append(
                _letter(
                    message,
                    origin=origin,
                    sender=sender,
                    recipient=address,
                    text=f"{message.text}\n\n{howto}",
                    now=now,
                    variant=hashlib.sha256(address.encode()).hexdigest()[:8],
                    reply_to=f"{local}+{token}@{domain}",
                )
            )
    if main.lower() not in approvers:
        letters.insert(
            0,
            _letter(
                message, origin=origin, sender=sender, recipient=main, text=message.text, now=now
            ),
        )
    return letters
