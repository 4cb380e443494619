"""Who may call the API: a bearer token on ``/v1``, an HMAC signature on webhooks.

Pure functions over header values; both compare in constant time.
"""

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "bearer_ok", "sign", "signature_problem"]

SIGNATURE_HEADER = "X-Deploybot-Signature"


def bearer_ok(authorization: str | None, *, token: str) -> bool:
    """``Authorization: Bearer <token>`` (the scheme is case-insensitive)."""
    if not authorization or not token:
        return False
    scheme, _, given = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def sign(body: bytes, *, secret: str) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_problem(header: str | None, *, body: bytes, secret: str) -> str | None:
    """Why the signature is not acceptable, or ``None`` when it matches the raw body."""
    if not header:
        return f"missing {SIGNATURE_HEADER} (sha256=<hex HMAC-SHA256 of the body>)"
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        return f"{SIGNATURE_HEADER} must look like sha256=<hex HMAC-SHA256 of the body>"
    expected = sign(body, secret=secret).partition("=")[2]
    if not hmac.compare_digest(digest.lower().encode(), expected.encode()):
        return f"{SIGNATURE_HEADER} does not match the body"
    return None
