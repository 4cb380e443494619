"""What to do with one parsed inbound email: ignore it, refuse it, or publish an event. Pure.

- Machine mail (auto-replies, bounces, lists), mail without one clean From address, mail
  from the bot itself and from unknown senders is ignored and never answered.
- Mail in the name of someone in [people] without our own servers' ``dmarc=pass`` for the
  From domain (required unless switched off; ``channels.email.dmarc``) is
  ``Unauthenticated``: never answered, but recorded for the audit and counted.
- A reply addressed to ``<local>+<token>@<domain>`` is a decision only when the token is
  valid (signed with ``DEPLOYBOT_SECRET``), unexpired and was issued to the From address;
  its first line must be ``approve`` or ``reject <reason>`` (``deny``/``no`` read as
  reject; the words are ``bot.core.reading.vocabulary``'s). It is published as
  ``DecisionReceived`` with the token's plan prefix. Anything else is refused or, for
  other words, passed on as an ordinary message in that thread.
- Without a token, In-Reply-To/References to one of the bot's own Message-IDs continue that
  thread, but never carry a decision.
- Otherwise a new thread starts: its id is derived from the Message-ID.
"""

import hashlib
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from bot.core.ports.inbound import Envelope, agent_for
from bot.core.reading.vocabulary import (
    APPROVE,
    REJECT,
    Decision,
    decision_of,
    looks_like_decision,
)
from bot.core.thread.audit import RefusalKind
from bot.core.thread.events import DecisionReceived, UserMessage
from bot.core.thread.origin import EmailOrigin
from bot.core.thread.text.actor import Actor, ActorError
from channels.email.dmarc import NoDmarcPass, dmarc_verdict
from channels.email.message import ParsedMail
from channels.email.token import TokenError, verify_token

__all__ = [
    "Ignore",
    "MailRules",
    "Publish",
    "Refuse",
    "Unauthenticated",
    "Verdict",
    "own_message_id",
    "thread_from_references",
    "thread_id_for_mail",
    "triage",
]

_DECISION_WORD = re.compile(r"[a-z]+")
_OWN_ID = re.compile(r"<deploybot\.([a-z0-9_-]{1,40})\.[A-Za-z0-9_.-]+@[^<>@\s]+>")


class MailRules(BaseModel):
    model_config = ConfigDict(frozen=True)

    bot_address: str  # e.g. deploybot@example.com; replies go to deploybot+TOKEN@example.com
    secret: bytes  # DEPLOYBOT_SECRET: the only key reply tokens are checked with
    known_senders: frozenset[str]  # lower-cased addresses of [people]
    require_dmarc: bool = True  # off only when asked for (EMAIL_REQUIRE_DMARC=false)
    authserv_ids: tuple[str, ...] = ()  # our receiving servers' authserv-ids
    names: dict[str, str] = {}  # lower-cased address -> its person's name in [people]

    @model_validator(mode="before")
    @classmethod
    def _one_id_spelled_as_the_variable(cls, data: Any) -> Any:
        """``authserv_id="mx1,mx2"`` (EMAIL_AUTHSERV_ID's spelling) is ``authserv_ids``."""
        if isinstance(data, dict) and data.get("authserv_id") and not data.get("authserv_ids"):
            ids = tuple(i.strip() for i in str(data["authserv_id"]).split(",") if i.strip())
            data = {**data, "authserv_ids": ids}
        return data

    @model_validator(mode="after")
    def _authserv_id_when_required(self) -> "MailRules":
        if self.require_dmarc and not any(i.strip() for i in self.authserv_ids):
            raise ValueError("checking DMARC needs EMAIL_AUTHSERV_ID (our server's authserv-id)")
        return self


class Ignore(BaseModel):
    model_config = ConfigDict(frozen=True)
    reason: str


class Refuse(BaseModel):
    """Answer the sender briefly; nothing is published."""

    model_config = ConfigDict(frozen=True)
    reason: str
    address: str
    subject: str
    message_id: str


class Unauthenticated(BaseModel):
    """In someone's name, but our mail servers did not vouch for it: never answered."""

    model_config = ConfigDict(frozen=True)
    claimed: str  # the From address (one of [people]'s)
    person: str
    kind: RefusalKind
    reason: str
    message_id: str


class Publish(BaseModel):
    model_config = ConfigDict(frozen=True)
    envelope: Envelope


Verdict = Ignore | Refuse | Unauthenticated | Publish


def thread_id_for_mail(message_id: str) -> str:
    return "e" + hashlib.sha256(message_id.encode()).hexdigest()[:12]


def own_message_id(thread_id: str, message_id: str, domain: str, *, variant: str = "") -> str:
    """The stable Message-ID of one outbound message (``variant`` tells copies apart)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", message_id)[:80]
    suffix = f".{variant}" if variant else ""
    return f"<deploybot.{thread_id}.{safe}{suffix}@{domain}>"


def thread_from_references(ids: Collection[str]) -> str | None:
    for value in reversed(list(ids)):
        match = _OWN_ID.fullmatch(value)
        if match:
            return match.group(1)
    return None


def _tokens(mail: ParsedMail, rules: MailRules) -> list[str]:
    local, _at, domain = rules.bot_address.lower().partition("@")
    found = []
    for address in mail.recipients:
        rcpt_local, _at2, rcpt_domain = address.rpartition("@")
        if rcpt_domain == domain and rcpt_local.startswith(local + "+"):
            found.append(rcpt_local[len(local) + 1 :])
    return list(dict.fromkeys(found))


def _first_line(text: str) -> tuple[str, str]:
    """The first non-empty line and the rest of the text."""
    lines = text.strip().split("\n", 1)
    return lines[0].strip(), (lines[1].strip() if len(lines) > 1 else "")


class _Decided(BaseModel):
    model_config = ConfigDict(frozen=True)
    decision: Decision
    reason: str | None


def _decision(text: str) -> _Decided | None:
    """``approve`` alone, or ``reject <reason>``, on a clear first line; else None."""
    line, rest = _first_line(text)
    words = line.split(maxsplit=1)
    first = _DECISION_WORD.match(words[0].lower()) if words else None
    word = first.group(0) if first else ""
    tail = words[1].strip() if len(words) > 1 else ""
    decision = decision_of(word, reply=True)
    if decision == "approve" and decision_of(words[0].rstrip(".!")) == "approve" and not tail:
        return _Decided(decision="approve", reason=None)
    if decision == "reject":
        reason = " ".join((tail.lstrip(":,-. ") or rest).split())[:500]
        return _Decided(decision="reject", reason=reason or None)
    return None


def triage(mail: ParsedMail, *, rules: MailRules, now: datetime) -> Verdict:
    if mail.automatic:
        return Ignore(reason=f"automatic mail ({mail.automatic})")
    sender = mail.from_address
    if sender is None:
        return Ignore(reason=mail.from_error or "no sender")
    local, _at, domain = rules.bot_address.lower().partition("@")
    sender_local, _at2, sender_domain = sender.rpartition("@")
    if sender_domain == domain and (sender_local == local or sender_local.startswith(local + "+")):
        return Ignore(reason="sent by the bot itself")
    if mail.message_id is None:
        return Ignore(reason="no Message-ID")
    if sender not in rules.known_senders:
        return Ignore(reason="sender is not in [people]")
    if rules.require_dmarc:
        verdict = dmarc_verdict(
            mail.trace, authserv_ids=rules.authserv_ids, from_domain=sender_domain
        )
        if isinstance(verdict, NoDmarcPass):
            return Unauthenticated(
                claimed=sender,
                person=rules.names.get(sender, sender),
                kind=verdict.kind,
                reason=verdict.reason,
                message_id=mail.message_id[:200],
            )
    return _read(mail, rules=rules, now=now, sender=sender, message_id=mail.message_id)


def _read(
    mail: ParsedMail, *, rules: MailRules, now: datetime, sender: str, message_id: str
) -> Verdict:

    def refuse(reason: str) -> Refuse:
        return Refuse(reason=reason, address=sender, subject=mail.subject, message_id=message_id)

    if mail.oversized:
        return refuse(f"Your email is too large ({mail.size_bytes // 1024} KB); nothing was read.")
    if mail.unreadable:
        return refuse(
            f"Your email could not be read ({mail.unreadable_detail}); nothing was read. "
            "Please send the request again as a plain message."
        )

    try:
        actor = Actor.of("email", sender)  # parsed once, here at the edge
    except ActorError as exc:
        return Ignore(reason=f"sender {exc}")

    def publish(thread_id: str, text: str, origin: EmailOrigin | None = None) -> Publish:
        event = UserMessage(id=message_id, at=now, actor=actor, text=text)
        envelope = Envelope(thread_id=thread_id, event=event, origin=origin, agent=agent_for(text))
        return Publish(envelope=envelope)

    tokens = _tokens(mail, rules)
    if tokens:
        try:
            claim = verify_token(tokens[0], secret=rules.secret, address=sender, now=now)
        except TokenError as exc:
            return refuse(f"This reply can't be used as a decision ({exc}); nothing was changed.")
        decided = _decision(mail.text)
        if decided is not None:  # the plan comes from the signed token, as data
            event = DecisionReceived(
                id=message_id,
                at=now,
                actor=actor,
                decision=decided.decision,
                plan_hash=claim.plan_prefix,
                reason=decided.reason,
            )
            return Publish(envelope=Envelope(thread_id=claim.thread_id, event=event))
        line, _rest = _first_line(mail.text)
        if not line or looks_like_decision(line):
            return refuse(
                f"Please answer with '{APPROVE}' alone, or '{REJECT} <reason>', on the first line."
            )
        return publish(claim.thread_id, mail.text)

    thread_id = thread_from_references([*mail.references, *mail.in_reply_to])
    if thread_id is not None:
        line, _rest = _first_line(mail.text)
        word = _DECISION_WORD.match(line.lower())
        if word and decision_of(word.group(0), reply=True) is not None:
            return refuse(
                "Decisions count only as a reply to the approval email itself (its reply "
                "address carries your personal token); nothing was changed."
            )
        if not mail.text:
            return Ignore(reason="empty reply")
        return publish(thread_id, mail.text)

    text = mail.text or mail.subject
    if not text:
        return Ignore(reason="empty request")
    origin = EmailOrigin(address=sender, subject=mail.subject, message_ids=[message_id])
    return publish(thread_id_for_mail(message_id), text, origin)
