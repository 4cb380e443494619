"""Did our own receiving server report ``dmarc=pass`` for the From domain? Pure.

Which header is ours: receiving servers add Authentication-Results at the top, so headers
are read from the top down. Headers whose authserv-id is not ``EMAIL_AUTHSERV_ID`` are
skipped (anyone can write one). The first, topmost, header with our authserv-id is the
only one that counts; every header below it was there before our server saw the mail,
so it may have been written by the sender, and is never read, even when it says pass and
ours says fail. When our topmost header is unreadable, the answer is no (it is not skipped
for one further down). Inside that header every ``dmarc`` result must be ``pass`` and name
the From domain in ``header.from``; at least one must be there.
"""

from collections.abc import Sequence
from typing import assert_never

from pydantic import BaseModel, ConfigDict

from channels.email.auth_results import AuthResults, Unreadable, parse_auth_results

__all__ = ["DmarcPass", "DmarcVerdict", "NoDmarcPass", "dmarc_verdict"]


class DmarcPass(BaseModel):
    model_config = ConfigDict(frozen=True)

    authserv_id: str
    domain: str


class NoDmarcPass(BaseModel):
    model_config = ConfigDict(frozen=True)

    reason: str


DmarcVerdict = DmarcPass | NoDmarcPass


def _domain(value: str) -> str:
    return value.strip().rstrip(".").lower()


def _judge(ours: AuthResults, from_domain: str) -> DmarcVerdict:
    dmarc = [r for r in ours.results if r.method == "dmarc"]
    if not dmarc:
        return NoDmarcPass(reason="our server reported no dmarc result")
    for result in dmarc:
        if result.result != "pass":
            return NoDmarcPass(reason=f"our server reported dmarc={result.result}")
        header_from = result.value("header", "from")
        if header_from is None:
            return NoDmarcPass(reason="our server's dmarc result names no header.from")
        if _domain(header_from) != from_domain:
            return NoDmarcPass(reason=f"dmarc=pass is for {header_from}, not {from_domain}")
    return DmarcPass(authserv_id=ours.authserv_id, domain=from_domain)


def dmarc_verdict(headers: Sequence[str], *, authserv_id: str, from_domain: str) -> DmarcVerdict:
    """``headers``: the Authentication-Results values in message order (topmost first)."""
    ours, domain = authserv_id.strip().lower(), _domain(from_domain)
    if not ours or not domain:
        return NoDmarcPass(reason="no authserv-id or no From domain to check")
    for header in headers:
        parsed = parse_auth_results(header)
        if parsed.authserv_id is None or parsed.authserv_id.strip().lower() != ours:
            continue  # someone else's (or unreadable before its authserv-id): worthless
        match parsed:
            case Unreadable(reason=reason):
                return NoDmarcPass(reason=f"our Authentication-Results is unreadable: {reason}")
            case AuthResults():
                return _judge(parsed, domain)
            case _:
                assert_never(parsed)
    return NoDmarcPass(reason="no Authentication-Results from our server")
