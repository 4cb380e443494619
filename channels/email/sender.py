"""EmailSender: delivers outbound messages over SMTP for the outbox's ``email`` deliverer.

Any SMTP failure raises, so the outbox keeps the message and retries it; a permanent (5xx)
refusal of a recipient raises ``Undeliverable`` once the other copies are sent. One message can
become several emails (the requester's copy and one per approver); each sent copy is
recorded (``MailState.copy_sent``), so a retry after a partial failure sends only the missing ones.
"""

import logging
import ssl
from collections.abc import Callable, Mapping
from datetime import datetime

import aiosmtplib
from pydantic import BaseModel, ConfigDict, SecretStr

from bot.core.errors import Undeliverable
from bot.core.ports.channel_state import MailState
from bot.core.ports.outbound import OutboundMessage
from channels.email.compose import Letter, letters_for

__all__ = ["EmailSender", "SmtpServer"]

log = logging.getLogger("deploybot.email")


class SmtpServer(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True  # upgrade when the server offers STARTTLS
    tls_context: ssl.SSLContext | None = None
    timeout_s: float = 30


class EmailSender:
    def __init__(
        self,
        *,
        smtp: SmtpServer,
        from_address: str,
        secret: bytes,
        emails: Mapping[str, str],
        state: MailState,
        clock: Callable[[], datetime],
    ) -> None:
        self._smtp = smtp
        self._from = from_address
        self._secret = secret
        self._emails = dict(emails)
        self._state = state
        self._clock = clock

    async def send(self, message: OutboundMessage) -> None:
        try:
            letters = letters_for(
                message,
                sender=self._from,
                secret=self._secret,
                emails=self._emails,
                now=self._clock(),
            )
        except ValueError as exc:  # cannot be written as an email at all
            raise Undeliverable(f"not sendable as email: {exc}") from exc
        if not letters:
            return
        done_before = await self._state.sent_copies(message.thread_id, message.message_id)
        refused: list[str] = []
        for letter in letters:
            if letter.key in done_before:
                continue  # sent before a partial failure; the outbox is retrying the rest
            try:
                await self._send_one(letter)
            except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError) as exc:
                if not _permanent(exc):
                    raise  # 4xx: try again later
                log.error(
                    "email to %s refused for good: %s",
                    letter.recipient,
                    exc,
                    extra={"thread_id": message.thread_id},
                )
                refused.append(letter.recipient)
            # Done with it, delivered or refused for good.
            await self._state.copy_sent(message.thread_id, message.message_id, copy=letter.key)
        if refused:
            raise Undeliverable(f"the mail server refused {', '.join(refused)} for good")

    async def _send_one(self, letter: Letter) -> None:
        smtp = self._smtp
        await aiosmtplib.send(
            letter.message,
            sender=self._from,
            recipients=[letter.recipient],
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            start_tls=None if smtp.starttls else False,
            tls_context=smtp.tls_context,
            timeout=smtp.timeout_s,
        )
        log.info(
            "email sent",
            extra={
                "thread_id": letter.message["X-Deploybot-Thread"],
                "message_id": letter.message["Message-ID"],
            },
        )


def _permanent(exc: aiosmtplib.SMTPRecipientsRefused | aiosmtplib.SMTPDataError) -> bool:
    """A 5xx answer: the server will never take this mail; 4xx means try again later."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    return exc.code >= 500
