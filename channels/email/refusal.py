"""What happens to an email our mail servers did not vouch for: recorded, counted, told.

The sender is never answered (a forger would learn what works, and a spoofed address would
get mail it never asked for). Instead the refusal goes to the audit and ``/metrics``
(``ports.refusals``), the log says who it claimed to be and why (``email refused:``),
and, when ``EMAIL_REFUSAL_NOTICE_S`` is set, the person it claimed to be is told at the
address the config gives for them, at most once per that many seconds: if it was them, their
mail setup needs a look; if not, someone is writing in their name.
"""

import logging
from datetime import datetime

from bot.core.ports.audit import Refusals
from bot.core.ports.outbound import OutboundMessage
from bot.core.ports.outbox import Notices
from bot.core.thread.audit import MailRefusal
from bot.core.thread.origin import EmailOrigin
from channels.email.triage import Unauthenticated, thread_id_for_mail

__all__ = ["notice_text", "refuse_unauthenticated"]

log = logging.getLogger("deploybot.email")

_WHY = {
    "no_results": "our mail server added no authentication results to it",
    "unreadable": "our mail server's authentication results could not be read",
    "no_dmarc": "our mail server reported no DMARC result for it",
    "dmarc_fail": "our mail server reported that it failed DMARC",
    "other_domain": "our mail server's DMARC result was for another domain",
    "unbacked": "its DMARC pass was not backed by our mail server's own SPF or DKIM results",
}


def notice_text(refusal: MailRefusal) -> str:
    """The note to the person a refused email claimed to be (our words only: nothing of
    the refused message's text, which someone else may have written)."""
    return (
        f"A message in your name ({refusal.claimed}) reached deploybot at "
        f"{refusal.at:%Y-%m-%d %H:%M} UTC and was refused: {_WHY[refusal.kind]}. "
        "Nothing was requested or decided.\n\n"
        "If you sent it, your mail may be going through a server that breaks DMARC "
        "(a forwarder, a mailing list) or your domain's DMARC setup needs a look; the "
        "deploybot operator can see the details with 'deploybot audit'. If you did not "
        "send it, someone is writing in your name.\n\n"
        "You get this note at most once in a while, however many arrive."
    )


async def refuse_unauthenticated(
    verdict: Unauthenticated,
    *,
    refusals: Refusals,
    notices: Notices,
    now: datetime,
    notice_interval_s: float = 0,
) -> MailRefusal:
    """Record and count the refusal, log it, and (``notice_interval_s`` > 0) tell the person
    it claimed to be, rate-limited per person."""
    refusal = MailRefusal(
        at=now,
        claimed=verdict.claimed,
        person=verdict.person,
        kind=verdict.kind,
        reason=verdict.reason,
        message_id=verdict.message_id,
    )
    await refusals.record(refusal)
    log.warning(
        "email refused: not vouched for by our mail servers (claimed %s, %s: %s)",
        verdict.claimed,
        verdict.kind,
        verdict.reason,
    )
    if notice_interval_s > 0 and await refusals.notice_due(
        verdict.person, interval_s=notice_interval_s
    ):
        await notices.send_transient(
            OutboundMessage(
                thread_id=thread_id_for_mail(verdict.message_id),
                message_id="refused-notice",
                origin=EmailOrigin(address=verdict.claimed, subject=""),
                route=f"email:{verdict.claimed}",
                topic="a message in your name was refused",
                text=notice_text(refusal),
                purpose="error",
            )
        )
    return refusal
