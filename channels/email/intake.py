"""One fetched email, taken in: read, triaged, acted on, or set aside.

``MailIntake.take`` is what the IMAP listener does with the bytes of one message. Reading
(``parse_mail``) and triage are pure and capped; whatever they still raise is contained
here: the message is set aside (``ports.set_aside``: a log line, a counter, an audit
record) and the listener goes on. A message that is ``unreadable`` (too deep, too many
parts, headers too large, the parser failed) is set aside too, and its sender, when the
rules would have answered them, is told that nothing was read. Publishing and the outbox
talk to Redis: their failures propagate, so the message is fetched again later.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import assert_never

from bot.core.errors import StoreError
from bot.core.ports.channel_ports import ChannelPorts
from bot.core.ports.outbound import OutboundMessage
from bot.core.thread.origin import EmailOrigin
from bot.core.thread.set_aside import SetAside, SetAsideReason
from channels.email.message import ParsedMail, parse_mail
from channels.email.refusal import refuse_unauthenticated
from channels.email.triage import (
    Ignore,
    MailRules,
    Publish,
    Refuse,
    Unauthenticated,
    Verdict,
    thread_id_for_mail,
    triage,
)

__all__ = ["MailIntake"]

log = logging.getLogger("deploybot.email")


class MailIntake:
    def __init__(
        self,
        *,
        ports: ChannelPorts,
        rules: MailRules,
        clock: Callable[[], datetime],
        max_bytes: int,
        notice_interval_s: float,
    ) -> None:
        self._inbound = ports.inbound
        self._notices = ports.notices
        self._refusals = ports.refusals
        self._set_aside = ports.set_aside
        self._rules = rules
        self._clock = clock
        self._max_bytes = max_bytes
        self._notice_interval_s = notice_interval_s

    async def take(self, raw: bytes, *, size_bytes: int, ref: str) -> bool:
        """Read and act on one message (``ref`` names it in logs: mailbox and UID).
        True when it was set aside (the listener flags it for a person to look at)."""
        mail: ParsedMail | None = None
        try:
            mail = parse_mail(raw, max_bytes=self._max_bytes, size_bytes=size_bytes)
            verdict = triage(mail, rules=self._rules, now=self._clock())
        except Exception as exc:  # a bug met on hostile input: contained, never retried
            log.exception("email %s: reading it failed", ref)
            detail = f"reading it raised {type(exc).__name__}"
            await self._record(ref, mail, "parser_failed", detail)
            return True
        if mail.unreadable is not None:
            await self._record(ref, mail, mail.unreadable, mail.unreadable_detail)
        try:
            await self._act(verdict)
        except (StoreError, OSError):
            raise  # Redis away: the listener reconnects and the message is fetched again
        except Exception as exc:  # what the message made us build failed: contained
            log.exception("email %s: acting on it failed", ref)
            detail = f"acting on it raised {type(exc).__name__}"
            await self._record(ref, mail, "handler_failed", detail)
            return True
        return mail.unreadable is not None

    async def crashed(self, ref: str, *, tries: int) -> None:
        """The message's handling started ``tries`` times and never finished."""
        detail = f"its handling was started {tries} times and never finished"
        await self._record(ref, None, "crashed", detail)

    async def _record(
        self, ref: str, mail: ParsedMail | None, reason: SetAsideReason, detail: str
    ) -> None:
        if mail is not None and mail.message_id:
            ref = f"{ref} {mail.message_id}"
        item = SetAside(at=self._clock(), channel="email", reason=reason, ref=ref, detail=detail)
        await self._set_aside.record(item)

    async def _act(self, verdict: Verdict) -> None:
        match verdict:
            case Publish(envelope=envelope):
                await self._inbound.publish(envelope)
                log.info("email published", extra={"thread_id": envelope.thread_id})
            case Refuse():
                await self._notices.send_transient(
                    OutboundMessage(
                        thread_id=thread_id_for_mail(verdict.message_id),
                        message_id="refusal",
                        origin=EmailOrigin(
                            address=verdict.address,
                            subject=verdict.subject,
                            message_ids=[verdict.message_id],
                        ),
                        text=verdict.reason,
                        purpose="error",
                    )
                )
                log.info("email refused: %s", verdict.reason)
            case Unauthenticated():
                await refuse_unauthenticated(
                    verdict,
                    refusals=self._refusals,
                    notices=self._notices,
                    now=self._clock(),
                    notice_interval_s=self._notice_interval_s,
                )
            case Ignore(reason=reason):
                log.info("email ignored: %s", reason)
            case _:
                assert_never(verdict)
