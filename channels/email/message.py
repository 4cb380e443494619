"""One inbound email, parsed strictly into what deploybot reads from it. Pure.

``parse_mail`` never raises on malformed input: whatever cannot be read is recorded
(``from_error``, an empty text, ``unreadable``) and the rules in ``channels.email.triage``
decide. Its shape is measured first (``channels.email.structure``): a message nested too
deeply, with too many parts or too large headers is never given to the stdlib parser; only
its top header block is read (when that is within the caps), so the sender can be told. The
parse itself runs under a guard too: anything it raises makes the message ``parser_failed``.
"""

import email
import email.policy
import re
from email.headerregistry import Address
from email.message import EmailMessage, Message

from pydantic import BaseModel, ConfigDict

from bot.core.thread.set_aside import SetAsideReason
from channels.email.body import fresh_text, html_to_text
from channels.email.boundary import TraceField
from channels.email.structure import MimeCaps, TooComplex, mime_outline

__all__ = ["ParsedMail", "parse_mail"]

_MSGID = re.compile(r"<[^<>\s]{1,250}>")
_HEADER_LIMIT = 64 * 1024


class ParsedMail(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str | None
    from_address: str | None  # lower-cased addr-spec, or None when not exactly one clean one
    from_error: str | None
    recipients: list[str]  # To, Cc, Delivered-To, X-Original-To (lower-cased addr-specs)
    subject: str
    in_reply_to: list[str]
    references: list[str]
    text: str  # the sender's own words: quotes and signatures cut
    automatic: str | None  # why this looks machine-sent (auto-reply, bounce, list), or None
    trace: list[TraceField]  # Received and Authentication-Results, raw values, topmost first
    size_bytes: int
    oversized: bool
    unreadable: SetAsideReason | None = None  # why the body was not read (too deep, ...)
    unreadable_detail: str = ""  # what was found, in a few words


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the policy cannot parse at all
        return ""
    return "" if value is None else str(value)


def _headers(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in (msg.get_all(name) or [])]
    except Exception:
        return []


def _trace(msg: Message) -> list[TraceField]:
    """Received and Authentication-Results in message order (topmost first), as the bytes
    spelled them: no encoded-word decoding, which could turn text inside a comment into
    something else."""
    found: list[TraceField] = []
    try:
        for key, value in msg.raw_items():
            name = key.strip().lower()
            if name == "received" or name == "authentication-results":
                found.append(TraceField(name=name, value=str(value)))
    except Exception:
        return []
    return found


def _strict_from(msg: Message) -> tuple[str | None, str | None]:
    """The one sender address, or why there is none (missing, several, defects)."""
    try:
        values = msg.get_all("From") or []
        if len(values) != 1:
            return None, "need exactly one From header"
        header = values[0]
        defects = list(getattr(header, "defects", []))
        addresses: tuple[Address, ...] = tuple(getattr(header, "addresses", ()))
    except Exception as exc:
        return None, f"unreadable From header ({type(exc).__name__})"
    if defects:
        return None, f"malformed From header ({type(defects[0]).__name__})"
    if len(addresses) != 1:
        return None, "need exactly one From address"
    address = addresses[0]
    if not address.username or not address.domain or any(c.isspace() for c in address.addr_spec):
        return None, "malformed From address"
    return address.addr_spec.lower(), None


def _addresses(msg: Message, names: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for name in names:
        for value in _headers(msg, name):
            found += [m.lower() for m in re.findall(r"[^\s<>,;:\"()]+@[^\s<>,;:\"()]+", value)]
    return found


def _automatic(msg: Message, from_address: str | None) -> str | None:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond"):  # not X-Auto-Response-Suppress: Outlook
        if _header(msg, name):  # sets that on ordinary mail too
            return name
    precedence = _header(msg, "Precedence").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {precedence}"
    if _header(msg, "List-Id") or _header(msg, "List-Unsubscribe"):
        return "mailing list"
    if _header(msg, "Return-Path").strip() == "<>":
        return "empty Return-Path (a bounce)"
    if msg.get_content_type() == "multipart/report":
        return "delivery or disposition report"
    local = (from_address or "").partition("@")[0]
    if local in ("mailer-daemon", "postmaster") or local.startswith(("noreply", "no-reply")):
        return f"sent by {local}"
    return None


def _body_text(msg: Message) -> str:
    if not isinstance(msg, EmailMessage):
        return ""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except Exception:  # unknown charset, broken encoding: nothing readable
        return ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def _head(raw: bytes) -> bytes:
    """The top header block alone (at most ``_HEADER_LIMIT`` bytes), ended by a blank line."""
    head, _sep, _rest = raw[:_HEADER_LIMIT].partition(b"\r\n\r\n")
    if head == raw[:_HEADER_LIMIT]:
        head, _sep, _rest = raw[:_HEADER_LIMIT].partition(b"\n\n")
    return head + b"\r\n\r\n"


def _tree_depth(msg: Message) -> int:
    """How deeply the parsed parts nest (iteratively: no recursion however deep)."""
    deepest = 0
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack += [(p, depth + 1) for p in payload if isinstance(p, Message)]
    return deepest


def _read(raw: bytes, *, size_bytes: int, oversized: bool, caps: MimeCaps) -> ParsedMail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if _tree_depth(msg) > caps.max_depth:  # the outline missed what the parser found
        raise RecursionError("parts nested deeper than the outline saw")
    from_address, from_error = _strict_from(msg)
    ids = _MSGID.findall(_header(msg, "Message-ID"))
    text = "" if oversized else fresh_text(_body_text(msg))
    return ParsedMail(
        message_id=ids[0] if ids else None,
        from_address=from_address,
        from_error=from_error,
        recipients=_addresses(msg, ("To", "Cc", "Delivered-To", "X-Original-To")),
        subject=" ".join(_header(msg, "Subject").split())[:200],
        in_reply_to=_MSGID.findall(_header(msg, "In-Reply-To")),
        references=_MSGID.findall(_header(msg, "References"))[-50:],
        text=text,
        automatic=_automatic(msg, from_address),
        trace=_trace(msg),
        size_bytes=size_bytes,
        oversized=oversized,
    )


def _unreadable(
    raw: bytes, *, size_bytes: int, reason: SetAsideReason, detail: str, caps: MimeCaps
) -> ParsedMail:
    """What can still be read safely: the top header block when it is within the caps
    itself (to know whom to tell); else nothing, and triage ignores the message."""
    head = _head(raw)
    mail = None
    if not isinstance(mime_outline(head, caps), TooComplex):
        try:
            mail = _read(head, size_bytes=size_bytes, oversized=True, caps=caps)
        except Exception:  # contained: the message is set aside either way
            mail = None
    if mail is None:
        mail = ParsedMail(
            message_id=None,
            from_address=None,
            from_error=f"unreadable ({detail})",
            recipients=[],
            subject="",
            in_reply_to=[],
            references=[],
            text="",
            automatic=None,
            trace=[],
            size_bytes=size_bytes,
            oversized=False,
        )
    return mail.model_copy(
        update={"oversized": False, "text": "", "unreadable": reason, "unreadable_detail": detail}
    )


def parse_mail(
    raw: bytes,
    *,
    max_bytes: int = 256 * 1024,
    size_bytes: int | None = None,
    caps: MimeCaps | None = None,
) -> ParsedMail:
    """``size_bytes``: the full size when only the headers of a large message were fetched.
    Never raises: a message over ``caps`` or one the parser fails on is ``unreadable``."""
    caps = caps or MimeCaps()
    size_bytes = len(raw) if size_bytes is None else size_bytes
    oversized = size_bytes > max_bytes
    raw_to_parse = _head(raw) if oversized else raw  # oversized: whom to tell, no more
    outline = mime_outline(raw_to_parse, caps)
    if isinstance(outline, TooComplex):
        return _unreadable(
            raw, size_bytes=size_bytes, reason=outline.reason, detail=outline.detail, caps=caps
        )
    try:
        return _read(raw_to_parse, size_bytes=size_bytes, oversized=oversized, caps=caps)
    except Exception as exc:  # RecursionError and any parser bug, contained
        detail = f"the parser failed ({type(exc).__name__})"
        return _unreadable(
            raw, size_bytes=size_bytes, reason="parser_failed", detail=detail, caps=caps
        )
