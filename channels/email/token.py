"""Reply tokens: who may answer an approval email, for which thread and plan, until when.

An approval email's Reply-To is ``<local>+<token>@<domain>``. The token names the thread and
(a prefix of) the plan hash in the clear and carries an expiry and an HMAC over those and the
recipient's address, so only a reply *from that address* to *that plan* before the expiry is
accepted. Tokens are lower-case letters, digits, ``-``, ``_`` and ``.``: safe in a local part.
"""

import base64
import binascii
import hashlib
import hmac
import re
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["PLAN_PREFIX_LEN", "TokenClaim", "TokenError", "sign_token", "verify_token"]

PLAN_PREFIX_LEN = 12  # hex digits of the plan hash carried (48 bits)
_MAC_BYTES = 10
_THREAD_ID = re.compile(r"[a-z0-9_-]{1,40}")
_TOKEN = re.compile(r"([a-z0-9_-]{1,40})\.([a-z2-7]{32})")


class TokenError(ValueError):
    """A reply token that is malformed, forged, for someone else or expired."""


class TokenClaim(BaseModel):
    model_config = ConfigDict(frozen=True)

    thread_id: str
    plan_prefix: str
    expires_at: datetime


def _mac(secret: bytes, thread_id: str, plan_prefix: str, address: str, expiry_min: int) -> bytes:
    message = "\x1f".join((thread_id, plan_prefix, address.strip().lower(), str(expiry_min)))
    return hmac.new(secret, message.encode(), hashlib.sha256).digest()[:_MAC_BYTES]


def sign_token(
    *, secret: bytes, thread_id: str, plan_hash: str, address: str, expires_at: datetime
) -> str:
    """The token for one recipient's decision on one plan. Thread ids must be lower-case."""
    if not _THREAD_ID.fullmatch(thread_id):
        raise ValueError(f"thread id {thread_id!r} cannot be carried in an email address")
    plan_prefix = plan_hash[:PLAN_PREFIX_LEN].lower()
    expiry_min = int(expires_at.timestamp() // 60) + 1  # round up: never shorter than asked
    raw = bytes.fromhex(plan_prefix) + expiry_min.to_bytes(4, "big")
    raw += _mac(secret, thread_id, plan_prefix, address, expiry_min)
    return f"{thread_id}.{base64.b32encode(raw).decode().lower()}"


def verify_token(token: str, *, secret: bytes, address: str, now: datetime) -> TokenClaim:
    """The claim of a valid token for a reply from ``address``; raises ``TokenError``."""
    match = _TOKEN.fullmatch(token.lower())
    if match is None:
        raise TokenError("malformed reply token")
    thread_id, body = match.groups()
    try:
        raw = base64.b32decode(body.upper())
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed reply token") from exc
    plan_prefix = raw[:6].hex()
    expiry_min = int.from_bytes(raw[6:10], "big")
    expected = _mac(secret, thread_id, plan_prefix, address, expiry_min)
    if not hmac.compare_digest(expected, raw[10:]):
        raise TokenError("reply token not valid for this sender")
    expires_at = datetime.fromtimestamp(expiry_min * 60, UTC)
    if now >= expires_at:
        raise TokenError("reply token expired")
    return TokenClaim(thread_id=thread_id, plan_prefix=plan_prefix, expires_at=expires_at)
